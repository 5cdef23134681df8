package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/metrics"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// shortLimits are the endpoint's limits in these tests: short, so that
// waiting them out is quick; the clients' own deadline, far longer, only
// keeps a test from hanging when a limit is not applied.
var shortLimits = httpLimits{ReadHeader: 300 * time.Millisecond, Read: 500 * time.Millisecond, Write: time.Second,
	Idle: 500 * time.Millisecond, MaxHeaderBytes: 1 << 10}

// patience is how long a client waits for the server to end a connection
// before the test calls the limit not applied.
const patience = 15 * time.Second

// serveLimited starts the endpoint with limits on a loopback port; it stops
// with the test.
func serveLimited(t *testing.T, limits httpLimits) (*http.Server, string) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	d := &daemon{metrics: metrics.New(metrics.Build{Version: "test"}), limits: limits}
	srv, err := d.serve("127.0.0.1:0", zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	served := logs.FilterMessage("serving metrics and health").All()
	if len(served) != 1 {
		t.Fatalf("no serving log line: %v", logs.All())
	}
	return srv, served[0].ContextMap()["addr"].(string)
}

// dial connects a raw TCP client that gives up after patience.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(patience))
	return c
}

// closedByServer reads what the server still sends until it closes the
// connection, failing the test if it keeps it open past patience.
func closedByServer(t *testing.T, c net.Conn, what string) string {
	t.Helper()
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the connection was still open after %s; want the server to close it", what, patience)
	}
	return string(b)
}

// TestListenerLimits: raw TCP clients that dribble a request, hold back a
// body, keep an idle connection or send oversized headers are cut off.
func TestListenerLimits(t *testing.T) {
	_, addr := serveLimited(t, shortLimits)

	t.Run("headers dribbled", func(t *testing.T) {
		c := dial(t, addr)
		req := "GET /healthz HTTP/1.1\r\nHost: guardd\r\nX-Slow: " + strings.Repeat("a", 40) + "\r\n\r\n"
		// One byte every 50 ms: the whole request would take 3 s, far
		// past the header limit.
		for i := 0; i < len(req); i++ {
			if _, err := c.Write([]byte{req[i]}); err != nil {
				break // closed by the server: what the test wants
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := closedByServer(t, c, "dribbled headers"); strings.Contains(got, "200 OK") {
			t.Errorf("dribbled headers were answered %q; want the connection closed first", got)
		}
	})

	t.Run("body never sent", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: guardd\r\nContent-Length: 1000\r\n\r\nx")
		closedByServer(t, c, "a body announced and never sent")
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: guardd\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: got %v, %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		closedByServer(t, c, "an idle keep-alive connection")
	})

	t.Run("headers too large", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: guardd\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("64 KiB of headers: got %v, %v; want 431", resp, err)
		}
	})
}

// TestListenerDefaultLimits: guardd run's endpoint has every limit set.
func TestListenerDefaultLimits(t *testing.T) {
	srv, _ := serveLimited(t, httpLimits{})
	l := defaultHTTPLimits
	if srv.ReadHeaderTimeout != l.ReadHeader || srv.ReadTimeout != l.Read || srv.WriteTimeout != l.Write ||
		srv.IdleTimeout != l.Idle || srv.MaxHeaderBytes != l.MaxHeaderBytes {
		t.Errorf("server limits: got header %s, read %s, write %s, idle %s, %d header bytes; want %+v",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes, l)
	}
	if l.ReadHeader <= 0 || l.Read <= 0 || l.Write <= 0 || l.Idle <= 0 || l.MaxHeaderBytes <= 0 || l.Idle > time.Minute {
		t.Errorf("default limits %+v: want each set, idle under a minute", l)
	}
}

// TestReadyzDegraded: /readyz is ready after a cycle that read the account,
// degraded, with the reason, after one that read none, and ready again once
// a cycle reads it again.
func TestReadyzDegraded(t *testing.T) {
	t.Parallel()
	p := deepSeekProvider(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	text := "schedule: \"@every 1s\"\nlog: {level: debug, format: json}\nhttp: {addr: \"127.0.0.1:0\"}\naccounts:\n" + p.account +
		"notifiers:\n  - {name: console, type: stdout}\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) (string, bool) { v, ok := p.env[k]; return v, ok }
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", cfg}, proc{getenv: getenv, stdout: &out, stderr: &errOut})
	}()
	defer func() { cancel(); <-done }()
	base := "http://" + logLine(t, &errOut, "serving metrics and health")["addr"].(string)

	waitFor := func(want int) string {
		t.Helper()
		for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if code, body := get(t, base+"/readyz"); code == want {
				return body
			}
		}
		t.Fatalf("/readyz never answered %d; log:\n%s", want, errOut.String())
		return ""
	}
	if body := waitFor(http.StatusOK); body != "ready\n" {
		t.Errorf("/readyz after a cycle that read the account: got %q", body)
	}
	p.fault(pollertest.Unauthorized)
	body := waitFor(http.StatusServiceUnavailable)
	if !strings.HasPrefix(body, "degraded: the last cycle (") || !strings.Contains(body, "read none of the 1 accounts (acme-deepseek)") {
		t.Errorf("/readyz after a cycle that read no account: got %q, want the reason", body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while degraded: got %d, want 200 (alive, only not ready)", code)
	}
	p.fault(pollertest.OK)
	waitFor(http.StatusOK)
}
