// Package smtptest is a fake SMTP server for tests, on 127.0.0.1. It speaks
// enough of ESMTP for a submission client: EHLO, STARTTLS with a
// self-signed certificate generated at start, AUTH PLAIN, MAIL, RCPT, DATA,
// RSET, NOOP and QUIT. It records the messages it accepts and can answer
// with the failures real servers give.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/testcert"
)

// Stage is the step of the exchange a fault answers.
type Stage string

const (
	Greeting Stage = "greeting"
	Auth     Stage = "auth"
	MailFrom Stage = "mail"
	RcptTo   Stage = "rcpt"
	Data     Stage = "data" // the answer after the message's final dot
)

// Fault makes the server answer Code and Text at Stage instead of going on.
type Fault struct {
	Stage Stage
	Code  int
	Text  string
}

// Options configure a Server.
type Options struct {
	// Username and Password are the only login accepted; empty Username
	// means no login is needed (and AUTH is not offered).
	Username, Password string
	// NoStartTLS stops the server from offering STARTTLS.
	NoStartTLS bool
	// AuthBeforeTLS offers AUTH before STARTTLS; by default, as real
	// submission servers do, only after.
	AuthBeforeTLS bool
	// Hang accepts connections but never greets.
	Hang bool
	// Implicit speaks TLS from the start, as on port 465.
	Implicit bool
}

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	// Data is the message as sent, dot-stuffing undone.
	Data []byte
	// TLS says whether the session was encrypted, User who logged in.
	TLS  bool
	User string
}

// Parse parses the message's headers and body.
func (m Message) Parse() (*mail.Message, error) { return mail.ReadMessage(bytes.NewReader(m.Data)) }

// Server is a fake SMTP server. It is safe for concurrent use.
type Server struct {
	ln   net.Listener
	opts Options
	cert tls.Certificate
	pool *x509.CertPool
	wg   sync.WaitGroup
	done chan struct{}

	mu       sync.Mutex
	fault    *Fault
	messages []Message
	sessions int
	conns    map[net.Conn]bool
}

// New starts a server; it is closed when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, pool, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, opts: o, cert: cert, pool: pool, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Host and Port are where the server listens.
func (s *Server) Host() string { return "127.0.0.1" }
func (s *Server) Port() int    { return s.ln.Addr().(*net.TCPAddr).Port }

// CertPool trusts the server's certificate (issued for 127.0.0.1 and
// localhost).
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// SetFault makes every later session answer f, until ClearFault.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = &f
}

// ClearFault lets sessions go through again.
func (s *Server) ClearFault() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = nil
}

// Messages returns the accepted messages, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Sessions counts the connections the server accepted.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Close stops the server and ends every session. It may be called more than
// once.
func (s *Server) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.sessions++
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			if s.opts.Hang {
				<-s.done
				return
			}
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			ss := &session{s: s, conn: c}
			if s.opts.Implicit {
				tc := tls.Server(c, s.tlsConfig())
				if err := tc.Handshake(); err != nil {
					return
				}
				ss.conn, ss.tls = tc, true
			}
			ss.run()
		}()
	}
}

func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
}

type session struct {
	s    *Server
	conn net.Conn
	r    *bufio.Reader
	tls  bool
	user string
	from string
	to   []string
	ehlo bool
}

func (ss *session) reply(code int, lines ...string) {
	var b strings.Builder
	for i, l := range lines {
		sep := " "
		if i < len(lines)-1 {
			sep = "-"
		}
		fmt.Fprintf(&b, "%d%s%s\r\n", code, sep, l)
	}
	_, _ = ss.conn.Write([]byte(b.String()))
}

// faultAt answers the fault for stage, if one is set, and reports whether
// it did.
func (ss *session) faultAt(stage Stage) bool {
	ss.s.mu.Lock()
	f := ss.s.fault
	ss.s.mu.Unlock()
	if f == nil || f.Stage != stage {
		return false
	}
	ss.reply(f.Code, f.Text)
	return true
}

func (ss *session) run() {
	ss.r = bufio.NewReader(ss.conn)
	if ss.faultAt(Greeting) {
		return
	}
	ss.reply(220, "127.0.0.1 ESMTP smtptest")
	for {
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			ss.ehlo = true
			ss.from, ss.to = "", nil
			ext := []string{"127.0.0.1 greets " + arg, "8BITMIME", "PIPELINING", "SIZE 10485760"}
			if !ss.tls && !ss.s.opts.NoStartTLS && !ss.s.opts.Implicit {
				ext = append(ext, "STARTTLS")
			}
			if ss.s.opts.Username != "" && (ss.tls || ss.s.opts.AuthBeforeTLS) {
				ext = append(ext, "AUTH PLAIN")
			}
			ss.reply(250, append(ext, "OK")...)
		case "STARTTLS":
			if ss.tls || ss.s.opts.NoStartTLS {
				ss.reply(502, "5.5.1 STARTTLS not available")
				continue
			}
			ss.reply(220, "2.0.0 Ready to start TLS")
			tc := tls.Server(ss.conn, ss.s.tlsConfig())
			if err := tc.Handshake(); err != nil {
				return
			}
			ss.conn, ss.r, ss.tls, ss.ehlo = tc, bufio.NewReader(tc), true, false
		case "AUTH":
			ss.auth(arg)
		case "MAIL":
			switch {
			case ss.s.opts.Username != "" && ss.user == "":
				ss.reply(530, "5.7.0 Authentication required")
			case ss.faultAt(MailFrom):
			default:
				ss.from = address(arg, "FROM:")
				ss.reply(250, "2.1.0 OK")
			}
		case "RCPT":
			switch {
			case ss.from == "":
				ss.reply(503, "5.5.1 MAIL first")
			case ss.faultAt(RcptTo):
			default:
				ss.to = append(ss.to, address(arg, "TO:"))
				ss.reply(250, "2.1.5 OK")
			}
		case "DATA":
			if len(ss.to) == 0 {
				ss.reply(503, "5.5.1 RCPT first")
				continue
			}
			ss.reply(354, "End data with <CR><LF>.<CR><LF>")
			data, err := ss.readData()
			if err != nil {
				return
			}
			if ss.faultAt(Data) {
				continue
			}
			ss.s.mu.Lock()
			ss.s.messages = append(ss.s.messages, Message{From: ss.from, To: ss.to, Data: data, TLS: ss.tls, User: ss.user})
			ss.s.mu.Unlock()
			ss.from, ss.to = "", nil
			ss.reply(250, "2.0.0 OK queued")
		case "RSET":
			ss.from, ss.to = "", nil
			ss.reply(250, "2.0.0 OK")
		case "NOOP":
			ss.reply(250, "2.0.0 OK")
		case "QUIT":
			ss.reply(221, "2.0.0 Bye")
			return
		default:
			ss.reply(502, "5.5.2 Command not recognized")
		}
	}
}

func (ss *session) auth(arg string) {
	mech, initial, _ := strings.Cut(arg, " ")
	switch {
	case ss.s.opts.Username == "" || (!ss.tls && !ss.s.opts.AuthBeforeTLS):
		ss.reply(503, "5.5.1 AUTH not available")
		return
	case ss.user != "":
		ss.reply(503, "5.5.1 Already authenticated")
		return
	case !strings.EqualFold(mech, "PLAIN"):
		ss.reply(504, "5.5.4 Unrecognized authentication type")
		return
	case ss.faultAt(Auth):
		return
	}
	if initial == "" {
		ss.reply(334, "")
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return
		}
		initial = strings.TrimRight(line, "\r\n")
	}
	raw, err := base64.StdEncoding.DecodeString(initial)
	if err != nil {
		ss.reply(501, "5.5.2 Cannot decode response")
		return
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[1] != ss.s.opts.Username || parts[2] != ss.s.opts.Password {
		ss.reply(535, "5.7.8 Authentication credentials invalid")
		return
	}
	ss.user = parts[1]
	ss.reply(235, "2.7.0 Authentication successful")
}

// readData reads a message up to the line holding a single dot.
func (ss *session) readData() ([]byte, error) {
	var b bytes.Buffer
	for {
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == ".\r\n" || line == ".\n" {
			return b.Bytes(), nil
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
}

// address takes the address out of "FROM:<a@b> SIZE=1" or "TO:<a@b>".
func address(arg, prefix string) string {
	arg = strings.TrimSpace(arg)
	if len(arg) >= len(prefix) && strings.EqualFold(arg[:len(prefix)], prefix) {
		arg = arg[len(prefix):]
	}
	addr, _, _ := strings.Cut(strings.TrimSpace(arg), " ")
	return strings.Trim(addr, "<>")
}

// PortText is Port as text, for configs.
func (s *Server) PortText() string { return strconv.Itoa(s.Port()) }
