// Package dovecottest runs a throwaway Dovecot (Debian's dovecot-imapd,
// 2.3) for tests: on 127.0.0.1, in a temporary folder, with one
// passwd-file user whose mail is a Maildir the test delivers into. It
// speaks plain IMAP with STARTTLS on one port and implicit TLS on another,
// with a certificate made at start.
//
// Dovecot runs as the current user, or as nobody when the tests run as
// root (Dovecot's own processes never run as root here). Every server
// stops by itself when its test ends.
package dovecottest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/testcert"
	"github.com/guardd/guardd/internal/testport"
)

// Credentials of the one user.
const (
	User     = "bot"
	Password = "test-password"
)

// Server is a running Dovecot.
type Server struct {
	// Host is 127.0.0.1; Port serves plain IMAP (and STARTTLS), TLSPort
	// implicit TLS.
	Host          string
	Port, TLSPort int
	// RootCAs trusts the server's certificate (for the names 127.0.0.1
	// and localhost).
	RootCAs *x509.CertPool
	// Maildir is the user's INBOX.
	Maildir string

	root     string
	cmd      *exec.Cmd
	exited   chan struct{}
	uid, gid int
	asOther  bool // run as another user than the test's (root runs it as nobody)
	seq      atomic.Int64
}

// Start starts a Dovecot and waits until it greets. It fails the test
// when Dovecot is not installed: .ci/run installs it, and a test that
// skipped in CI could never fail.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		for _, p := range []string{"/usr/sbin/dovecot", "/sbin/dovecot"} {
			if _, err2 := os.Stat(p); err2 == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		t.Fatalf("dovecot is not installed (apt-get install dovecot-imapd; .ci/run does it): %v", err)
	}
	// A short root: Dovecot's unix sockets live under it, and their paths
	// must stay under about 100 characters.
	root, err := os.MkdirTemp("", "gd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	s := &Server{Host: "127.0.0.1", root: root, exited: make(chan struct{}),
		Maildir: filepath.Join(root, "home", User, "Maildir")}

	runAs, group := s.account(t)
	for _, d := range []string{"run", "lib", "new", "cur", "tmp"} {
		dir := filepath.Join(root, d)
		if d == "new" || d == "cur" || d == "tmp" {
			dir = filepath.Join(s.Maildir, d)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.RootCAs = s.writeCert(t)
	// The ports were free when testport.Free let them go, but another process
	// (a test beside this one) may take one before Dovecot binds it: then
	// try others.
	t.Cleanup(s.Kill)
	for attempt := 1; ; attempt++ {
		taken := strings.Count(s.Log(), "Address already in use")
		err := s.launch(t, bin, runAs, group)
		if err == nil {
			break
		}
		s.Kill()
		if attempt == 5 || strings.Count(s.Log(), "Address already in use") == taken {
			t.Fatalf("dovecot did not start: %v\n%s", err, s.Log())
		}
	}
	return s
}

// launch starts Dovecot once, on two free ports, and waits for its
// greeting.
func (s *Server) launch(t testing.TB, bin, runAs, group string) error {
	t.Helper()
	s.Port, s.TLSPort = pickPort(t), pickPort(t)
	passwd := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s\n", User, Password, s.uid, s.gid, filepath.Dir(s.Maildir))
	s.write(t, "passwd", passwd)
	s.write(t, "dovecot.conf", s.config(runAs, group))
	if err := s.chownAll(); err != nil {
		return err
	}
	s.cmd = exec.Command(bin, "-F", "-c", filepath.Join(s.root, "dovecot.conf"))
	out, err := os.OpenFile(filepath.Join(s.root, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	s.cmd.Stdout, s.cmd.Stderr, s.cmd.Dir = out, out, s.root
	// Its own process group, so that stopping it stops its children too.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.asOther {
		s.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid), Groups: []uint32{}}
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start dovecot: %w", err)
	}
	s.exited = make(chan struct{})
	exited, cmd := s.exited, s.cmd
	go func() {
		cmd.Wait()
		close(exited)
	}()
	return s.waitGreeting(10 * time.Second)
}

// account picks who runs Dovecot and owns the mail: the current user, or
// nobody when that is root.
func (s *Server) account(t testing.TB) (name, group string) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if u, err = user.Lookup("nobody"); err != nil {
			t.Fatalf("running as root needs the user nobody to run dovecot as: %v", err)
		}
		s.asOther = true
	}
	s.uid, _ = strconv.Atoi(u.Uid)
	s.gid, _ = strconv.Atoi(u.Gid)
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return u.Username, g.Name
}

// config is the Dovecot 2.3 configuration (research/receipts.md section 5).
func (s *Server) config(runAs, group string) string {
	r := s.root
	return strings.Join([]string{
		"base_dir = " + r + "/run/",
		"state_dir = " + r + "/lib/",
		"log_path = " + r + "/dovecot.log",
		"protocols = imap",
		"listen = 127.0.0.1",
		"ssl = yes",
		"ssl_cert = <" + r + "/cert.pem",
		"ssl_key = <" + r + "/key.pem",
		"disable_plaintext_auth = no",
		"default_internal_user = " + runAs,
		"default_internal_group = " + group,
		"default_login_user = " + runAs,
		"auth_failure_delay = 0",
		"mail_location = maildir:~/Maildir",
		"passdb {\n  driver = passwd-file\n  args = " + r + "/passwd\n}",
		"userdb {\n  driver = passwd-file\n  args = " + r + "/passwd\n}",
		"service imap-login {\n  chroot =\n" +
			"  inet_listener imap {\n    address = 127.0.0.1\n    port = " + strconv.Itoa(s.Port) + "\n  }\n" +
			"  inet_listener imaps {\n    address = 127.0.0.1\n    port = " + strconv.Itoa(s.TLSPort) + "\n    ssl = yes\n  }\n}",
		// No growing delay for the same IP after a failed login: the tests
		// log in wrongly on purpose, then rightly.
		"service anvil {\n  chroot =\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}",
		"",
	}, "\n")
}

// writeCert writes a certificate for the server and returns the pool
// that trusts it.
func (s *Server) writeCert(t testing.TB) *x509.CertPool {
	cert, pool, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := testcert.PEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	s.write(t, "cert.pem", string(certPEM))
	s.write(t, "key.pem", string(keyPEM))
	return pool
}

// TLSConfig trusts the server's certificate.
func (s *Server) TLSConfig() *tls.Config { return &tls.Config{RootCAs: s.RootCAs} }

func (s *Server) write(t testing.TB, name, text string) {
	if err := os.WriteFile(filepath.Join(s.root, name), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// chownAll gives the tree to the user Dovecot runs as.
func (s *Server) chownAll() error {
	if !s.asOther {
		return nil
	}
	return filepath.Walk(s.root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, s.uid, s.gid)
	})
}

// pickPort is testport.MustFree; a test may make it give a taken one.
var pickPort = testport.MustFree

// waitGreeting waits until the plain port greets.
func (s *Server) waitGreeting(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("dovecot exited: %v", s.cmd.ProcessState)
		default:
		}
		conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			line, rerr := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if rerr == nil && strings.HasPrefix(line, "* OK") {
				return nil
			}
			err = fmt.Errorf("greeting %q: %v", line, rerr)
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no greeting within %s: %v", limit, last)
}

// Addr is the plain port's address.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Deliver puts a message into the INBOX as a mail server does (written in
// tmp/, renamed into new/), with the given modification time (which
// Dovecot takes as its arrival time) unless zero; it returns its file name.
func (s *Server) Deliver(t testing.TB, raw []byte, received time.Time) string {
	t.Helper()
	// Dovecot gives new files their UIDs in the order of the time and
	// microseconds (M) their names carry: the sequence keeps delivery
	// order within a second.
	name := fmt.Sprintf("%d.M%06dP%d.dovecottest", time.Now().Unix(), s.seq.Add(1), os.Getpid())
	tmp := filepath.Join(s.Maildir, "tmp", name)
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if !received.IsZero() {
		if err := os.Chtimes(tmp, received, received); err != nil {
			t.Fatal(err)
		}
	}
	if s.asOther {
		if err := os.Lchown(tmp, s.uid, s.gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, filepath.Join(s.Maildir, "new", name)); err != nil {
		t.Fatal(err)
	}
	return name
}

// Files lists the INBOX's message files as "new/NAME" and "cur/NAME"
// (a name in cur/ carries the flags after ":2,").
func (s *Server) Files(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(s.Maildir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			out = append(out, sub+"/"+e.Name())
		}
	}
	return out
}

// Kill stops Dovecot and all its processes at once (SIGKILL to its
// process group), as a crash would; the connections it held drop.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
	}
}

// Log returns Dovecot's log, for failure messages.
func (s *Server) Log() string {
	var b strings.Builder
	for _, name := range []string{"dovecot.log", "stderr.log"} {
		if data, err := os.ReadFile(filepath.Join(s.root, name)); err == nil {
			b.Write(data)
		}
	}
	return b.String()
}
