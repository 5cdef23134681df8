package imap_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/mailbox"
	"github.com/guardd/guardd/internal/mailbox/imap"
	"github.com/guardd/guardd/internal/mailbox/mailboxtest"
)

// receipt composes a message from the sender, padded with body lines to
// at least size bytes.
var receipt = mailboxtest.MessageFrom

// Senders used throughout: two allowed, and two that are not.
const (
	anthropic  = `"Anthropic, PBC" <invoice+statements@mail.anthropic.com>`
	openrouter = `"OpenRouter, Inc" <receipts@openrouter.ai>`
	newsletter = `News <news@example.com>`
	// lookalike matches SEARCH FROM "stripe.com" (a substring match) but
	// is not at stripe.com: the envelope check must drop it.
	lookalike = `"stripe.com" <billing@stripe.com.evil.example>`
)

// reader makes a Reader of the server at host:port with the test
// credentials and the default senders, changed by edit.
func reader(t *testing.T, host string, port int, user, password string, edit func(*imap.Options)) *imap.Reader {
	t.Helper()
	o := imap.Options{Host: host, Port: port, TLS: imap.None, Username: user, Password: secretOf(password),
		Senders: imap.DefaultSenders, Timeout: 5 * time.Second}
	if edit != nil {
		edit(&o)
	}
	r, err := imap.New(o)
	if err != nil {
		t.Fatalf("imap.New: %v", err)
	}
	return r
}

var (
	read     = mailboxtest.Read
	subjects = mailboxtest.Subjects
)

// wantUnavailable checks that a failed Read says the mailbox is
// unavailable, returns nothing and keeps the cursor.
func wantUnavailable(t *testing.T, r mailbox.Reader, ctx context.Context, c mailbox.Cursor, wants ...error) error {
	t.Helper()
	msgs, next, err := r.Read(ctx, c)
	if !errors.Is(err, mailbox.ErrUnavailable) {
		t.Fatalf("got error %v, want ErrUnavailable", err)
	}
	for _, w := range wants {
		if !errors.Is(err, w) {
			t.Errorf("got error %v, want it to wrap %v", err, w)
		}
	}
	if msgs != nil || next != c {
		t.Errorf("failed Read returned %d messages and cursor %q; want none and the cursor passed in", len(msgs), next)
	}
	return err
}

// proxy sits between a Reader and a server, records what the client sends
// and can cut or stall the connection when the client sends a command
// matching a pattern.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu       sync.Mutex
	sent     bytes.Buffer // client to server, all connections
	received int64        // server to client bytes
	trigger  *regexp.Regexp
	action   string // "cut" closes both sides; "stall" stops answering; "hook" calls onTrigger then forwards
	hook     func()
	conns    []net.Conn
	// chunk and every, when set, slow the server's answers down to chunk
	// bytes per every.
	chunk int
	every time.Duration
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target}
	t.Cleanup(p.close)
	go p.serve()
	return p
}

// on sets what happens when the client sends a line matching pattern.
func (p *proxy) on(pattern, action string, hook func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trigger, p.action, p.hook = regexp.MustCompile(pattern), action, hook
}

// throttle slows the server's answers to chunk bytes every period.
func (p *proxy) throttle(chunk int, every time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chunk, p.every = chunk, every
}

// off stops reacting to commands.
func (p *proxy) off() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trigger = nil
}

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		stalled := make(chan struct{})
		go p.upstream(client, server, stalled)
		go p.downstream(server, client, stalled)
	}
}

// upstream copies the client's lines to the server, recording them.
func (p *proxy) upstream(client, server net.Conn, stalled chan struct{}) {
	defer server.Close()
	br := bufio.NewReader(client)
	for {
		line, err := br.ReadBytes('\n')
		p.mu.Lock()
		p.sent.Write(line)
		trigger, action, hook := p.trigger, p.action, p.hook
		p.mu.Unlock()
		if trigger != nil && trigger.Match(line) {
			switch action {
			case "cut":
				client.Close()
				return
			case "stall":
				close(stalled)
				io.Copy(io.Discard, br)
				return
			case "hook":
				hook()
			}
		}
		if len(line) > 0 {
			if _, werr := server.Write(line); werr != nil {
				client.Close()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// downstream copies the server's answers to the client until stalled.
func (p *proxy) downstream(server, client net.Conn, stalled chan struct{}) {
	defer client.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		select {
		case <-stalled:
			// Hold the connection open and silent until the test ends.
			io.Copy(io.Discard, server)
			return
		default:
		}
		if n > 0 {
			p.mu.Lock()
			p.received += int64(n)
			chunk, every := p.chunk, p.every
			p.mu.Unlock()
			for data := buf[:n]; len(data) > 0; {
				k := len(data)
				if chunk > 0 && k > chunk {
					k = chunk
				}
				if _, werr := client.Write(data[:k]); werr != nil {
					return
				}
				data = data[k:]
				if chunk > 0 {
					time.Sleep(every)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// commands lists the commands the clients sent, as "VERB" or "UID VERB",
// with the whole lines for further checks. SASL responses and literals
// are not commands and are left out.
func (p *proxy) commands() (verbs []string, lines []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tagged := regexp.MustCompile(`^[A-Za-z0-9]+ (UID [A-Za-z]+|[A-Za-z]+)`)
	for _, line := range strings.Split(p.sent.String(), "\r\n") {
		if m := tagged.FindStringSubmatch(line); m != nil {
			verbs = append(verbs, strings.ToUpper(m[1]))
			lines = append(lines, line)
		}
	}
	return verbs, lines
}

func (p *proxy) receivedBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.received
}

// hangingServer accepts connections and never says a word.
func hangingServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedPort is a port on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// readOnlyVerbs are the only commands a Reader may send.
var readOnlyVerbs = map[string]bool{"CAPABILITY": true, "STARTTLS": true, "LOGIN": true, "AUTHENTICATE": true,
	"EXAMINE": true, "UID SEARCH": true, "UID FETCH": true, "LOGOUT": true}

// checkReadOnly fails when the recorded traffic holds a command that could
// change the mailbox, or a body fetch without PEEK.
func checkReadOnly(t *testing.T, p *proxy) {
	t.Helper()
	verbs, lines := p.commands()
	if len(verbs) == 0 {
		t.Fatal("no command recorded")
	}
	peeked := false
	for i, v := range verbs {
		if !readOnlyVerbs[v] {
			t.Errorf("client sent %s (%q); a reader sends only read-only commands", v, lines[i])
		}
		if strings.Contains(lines[i], "BODY[") || strings.Contains(lines[i], "RFC822 ") || strings.Contains(lines[i], "RFC822)") {
			t.Errorf("client fetched without PEEK: %q", lines[i])
		}
		peeked = peeked || strings.Contains(lines[i], "BODY.PEEK[]")
	}
	if !peeked {
		t.Errorf("no UID FETCH BODY.PEEK[] in %q", verbs)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
