// Package alertmanagertest runs a throwaway Prometheus Alertmanager
// (Debian's prometheus-alertmanager) for tests: on 127.0.0.1, in a
// temporary folder, alone (no cluster), with a route to a receiver that
// sends nowhere. It keeps alerts in memory, as every Alertmanager does, so
// Restart shows what a restart forgets. Every server stops by itself when
// its test ends.
package alertmanagertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/testport"
)

// Server is a running Alertmanager.
type Server struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
	exited   chan struct{}
}

// config routes every alert to a receiver that sends nothing.
const config = "route:\n  receiver: none\nreceivers:\n  - name: none\n"

// Binary finds the Alertmanager binary: Debian names it
// prometheus-alertmanager, upstream alertmanager.
func Binary() (string, error) {
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("neither prometheus-alertmanager nor alertmanager is on PATH")
}

// Start starts an Alertmanager and waits until it is ready. It fails the
// test when Alertmanager is not installed: .ci/run installs it, and a test
// that skipped in CI could never fail.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartConfig(t, config)
}

// StartConfig is Start with cfg as Alertmanager's configuration file (its
// routes and receivers), for a test of where alerts are routed.
func StartConfig(t testing.TB, cfg string) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatalf("alertmanager is not installed (apt-get install prometheus-alertmanager; .ci/run does it): %v", err)
	}
	s := &Server{bin: bin, dir: t.TempDir(), port: testport.MustFree(t)}
	if err := os.WriteFile(filepath.Join(s.dir, "alertmanager.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	// The port was free when testport.Free let it go, but another process
	// (a test beside this one) may take it before Alertmanager binds it:
	// then try another.
	s.start(t, func() { s.port = testport.MustFree(t) })
	return s
}

// URL is the base URL, such as http://127.0.0.1:40123.
func (s *Server) URL() string { return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// start starts Alertmanager and waits until it is ready. When its port is
// taken, it calls taken and tries again, a few times.
func (s *Server) start(t testing.TB, taken func()) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		from := len(s.rawLog())
		err := s.launch(t)
		if err == nil {
			return
		}
		s.Stop()
		if attempt == 5 || !strings.Contains(s.rawLog()[from:], "address already in use") {
			t.Fatalf("alertmanager did not start: %v\n%s", err, s.Log())
		}
		taken()
	}
}

// launch starts Alertmanager once and waits until it is ready.
func (s *Server) launch(t testing.TB) error {
	t.Helper()
	s.exited = make(chan struct{})
	s.cmd = exec.Command(s.bin,
		"--config.file="+filepath.Join(s.dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(s.dir, "data"),
		"--web.listen-address="+net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		"--cluster.listen-address=", // alone: no gossip port
	)
	out, err := os.OpenFile(filepath.Join(s.dir, "alertmanager.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	s.cmd.Stdout, s.cmd.Stderr, s.cmd.Dir = out, out, s.dir
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	exited := s.exited
	cmd := s.cmd
	go func() {
		cmd.Wait()
		close(exited)
	}()
	return s.waitReady(30 * time.Second)
}

// waitReady waits until /-/ready answers 200.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: time.Second}
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("alertmanager exited: %v", s.cmd.ProcessState)
		default:
		}
		resp, err := c.Get(s.URL() + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/-/ready answered %s", resp.Status)
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s: %v", limit, last)
}

// Stop ends Alertmanager (SIGTERM, then SIGKILL after a while) and waits
// for it to exit. It may be called more than once; Restart starts it again.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
		return
	case <-time.After(10 * time.Second):
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

// Restart stops Alertmanager and starts it again on the same address and
// folder: it comes back knowing no alert (it keeps them in memory only),
// as after an upgrade or a rescheduled pod.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	// The same address it had: when another process holds the port for
	// now (a client's connection may use it as its local port), wait.
	s.start(t, func() { time.Sleep(time.Second) })
}

// Alert is an alert as Alertmanager's API v2 lists it.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts returns the active alerts (GET /api/v2/alerts).
func (s *Server) Alerts(t testing.TB) []Alert {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(s.URL() + "/api/v2/alerts?active=true&silenced=true&inhibited=true")
	if err != nil {
		t.Fatalf("list alertmanager alerts: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list alertmanager alerts: %s: %s", resp.Status, body)
	}
	var out []Alert
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("list alertmanager alerts: %v: %s", err, body)
	}
	return out
}

// Log returns Alertmanager's log, for failure messages.
func (s *Server) Log() string { return strings.TrimSpace(s.rawLog()) }

// rawLog is the log file as it is, every start of Alertmanager appended.
func (s *Server) rawLog() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "alertmanager.log"))
	return string(b)
}
