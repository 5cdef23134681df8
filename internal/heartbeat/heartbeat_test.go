package heartbeat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/guardd/guardd/internal/heartbeat"
	"github.com/guardd/guardd/internal/heartbeat/heartbeattest"
	"github.com/guardd/guardd/internal/secret"
)

// logged renders every log line with its fields, for the leak checks.
func logged(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&b, "%s %s %v\n", e.Level, e.Message, e.ContextMap())
	}
	return b.String()
}

func newPinger(url string, o heartbeat.Options) (*heartbeat.Pinger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	o.URL, o.Log = secret.New(url), zap.New(core)
	return heartbeat.New(o), logs
}

func TestPingsByOutcome(t *testing.T) {
	failed := errors.New("1 of 2 accounts could not be read")
	partial := errors.New("1 of 2 accounts read only in part: acme (grants unavailable)")
	tests := []struct {
		name     string
		o        heartbeat.Options
		cycle    heartbeat.Cycle
		wantPing []heartbeattest.Ping
	}{
		{"completed", heartbeat.Options{}, heartbeat.Cycle{Summary: "2 of 2 accounts read"},
			[]heartbeattest.Ping{{Kind: "success", Method: "POST", Body: "2 of 2 accounts read"}}},
		{"failed", heartbeat.Options{}, heartbeat.Cycle{Err: failed, Summary: "1 of 2 accounts read"},
			[]heartbeattest.Ping{{Kind: "fail", Method: "POST", Body: "cycle failed: 1 of 2 accounts could not be read"}}},
		{"partial counts as ok", heartbeat.Options{}, heartbeat.Cycle{Partial: partial, Summary: "2 of 2 accounts read"},
			[]heartbeattest.Ping{{Kind: "success", Method: "POST", Body: "2 of 2 accounts read; read only in part: " + partial.Error()}}},
		{"partial fails when asked", heartbeat.Options{PartialFails: true}, heartbeat.Cycle{Partial: partial, Summary: "2 of 2 accounts read"},
			[]heartbeattest.Ping{{Kind: "fail", Method: "POST", Body: "cycle read accounts only in part: " + partial.Error()}}},
		{"start", heartbeat.Options{Start: true}, heartbeat.Cycle{Summary: "s"},
			[]heartbeattest.Ping{{Kind: "start", Method: "POST"}, {Kind: "success", Method: "POST", Body: "s"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := heartbeattest.New(t)
			p, logs := newPinger(srv.URL(), tt.o)
			p.Start(t.Context())
			p.Done(t.Context(), tt.cycle)
			got := srv.Pings()
			if fmt.Sprint(got) != fmt.Sprint(tt.wantPing) {
				t.Errorf("pings:\ngot  %+v\nwant %+v", got, tt.wantPing)
			}
			if n := logs.FilterMessage("heartbeat sent").Len(); n != len(tt.wantPing) {
				t.Errorf("\"heartbeat sent\" lines: got %d, want %d:\n%s", n, len(tt.wantPing), logged(logs))
			}
		})
	}
}

// TestFailReasonBoundedAndScrubbed: a long reason is cut to MaxBody, and
// the ping URL's secret part never goes out in it.
func TestFailReasonBoundedAndScrubbed(t *testing.T) {
	srv := heartbeattest.New(t)
	p, _ := newPinger(srv.URL(), heartbeat.Options{})
	reason := "deliver to " + srv.URL() + ": " + strings.Repeat("x", 2*heartbeat.MaxBody)
	p.Done(t.Context(), heartbeat.Cycle{Err: errors.New(reason)})
	pings := srv.Pings()
	if len(pings) != 1 || pings[0].Kind != "fail" {
		t.Fatalf("pings: got %+v, want one fail", pings)
	}
	body := pings[0].Body
	if n := len([]rune(body)); n > heartbeat.MaxBody {
		t.Errorf("body: got %d characters, want at most %d", n, heartbeat.MaxBody)
	}
	if strings.Contains(body, heartbeattest.Key) {
		t.Errorf("body holds the ping URL's key:\n%s", body)
	}
	if !strings.HasPrefix(body, "cycle failed: deliver to ") {
		t.Errorf("body: got %q, want the reason", body)
	}
}

// TestPingFailureLoggedWithStatus: a ping the service refuses is a warning
// with the HTTP status; neither it nor anything else shows the URL, though
// the service's answer quotes its path.
func TestPingFailureLoggedWithStatus(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusInternalServerError} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv := heartbeattest.New(t)
			srv.SetStatus(code)
			p, logs := newPinger(srv.URL(), heartbeat.Options{Start: true})
			p.Start(t.Context())
			p.Done(t.Context(), heartbeat.Cycle{Err: errors.New("boom")})
			warns := logs.FilterMessage("heartbeat ping failed").All()
			if len(warns) != 2 {
				t.Fatalf("warnings: got %d, want 2 (start and fail):\n%s", len(warns), logged(logs))
			}
			for _, w := range warns {
				if got := w.ContextMap()["status"]; got != int64(code) {
					t.Errorf("status field: got %v, want %d", got, code)
				}
			}
			if all := logged(logs); strings.Contains(all, heartbeattest.Key) || strings.Contains(all, srv.Base()) {
				t.Errorf("the log shows the ping URL:\n%s", all)
			}
		})
	}
}

// TestHangingServerBoundedByTimeout: a service that never answers holds a
// ping no longer than the timeout; the failure is logged. Without the
// bound, Done would wait until the test ends (the fake answers then).
func TestHangingServerBoundedByTimeout(t *testing.T) {
	srv := heartbeattest.New(t)
	srv.Hang()
	p, logs := newPinger(srv.URL(), heartbeat.Options{Timeout: 50 * time.Millisecond})
	done := make(chan struct{})
	go func() { p.Done(context.Background(), heartbeat.Cycle{}); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Done still waits on a server that hangs")
	}
	warns := logs.FilterMessage("heartbeat ping failed").All()
	if len(warns) != 1 || !strings.Contains(fmt.Sprint(warns[0].ContextMap()["error"]), "deadline exceeded") {
		t.Errorf("got %s, want one warning that the ping timed out", logged(logs))
	}
	if len(srv.Pings()) != 1 {
		t.Errorf("pings: got %d, want the one that hung", len(srv.Pings()))
	}
}

// TestStoppedCyclePingsNothing: a cycle cut short because guardd is
// stopping is no failure to report.
func TestStoppedCyclePingsNothing(t *testing.T) {
	srv := heartbeattest.New(t)
	p, _ := newPinger(srv.URL(), heartbeat.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p.Done(ctx, heartbeat.Cycle{Err: context.Canceled})
	if got := srv.Pings(); len(got) != 0 {
		t.Errorf("pings: got %+v, want none", got)
	}
}

// TestNoRedirects: a ping answered with a redirect is not followed (the
// URL, a credential, would reach another place) and is logged as failed.
func TestNoRedirects(t *testing.T) {
	other := heartbeattest.New(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL(), http.StatusFound)
	}))
	defer redirect.Close()
	p, logs := newPinger(redirect.URL+"/ping/"+heartbeattest.Key, heartbeat.Options{})
	p.Done(t.Context(), heartbeat.Cycle{})
	if len(other.Pings()) != 0 {
		t.Errorf("the redirect was followed: %+v", other.Pings())
	}
	if warns := logs.FilterMessage("heartbeat ping failed").All(); len(warns) != 1 || warns[0].ContextMap()["status"] != int64(http.StatusFound) {
		t.Errorf("got %s, want one warning with status 302", logged(logs))
	}
}

// TestSubURLKeepsQuery: /fail and /start go into the path, before a query
// (healthchecks.io's ?create=1 and its kind).
func TestSubURLKeepsQuery(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+"?"+r.URL.RawQuery)
	}))
	defer srv.Close()
	p, _ := newPinger(srv.URL+"/ping/key/slug/?create=1", heartbeat.Options{Start: true})
	p.Start(t.Context())
	p.Done(t.Context(), heartbeat.Cycle{Err: errors.New("x")})
	p.Done(t.Context(), heartbeat.Cycle{})
	want := []string{"/ping/key/slug/start?create=1", "/ping/key/slug/fail?create=1", "/ping/key/slug/?create=1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paths:\ngot  %v\nwant %v", got, want)
	}
}

// TestNilPingerPingsNothing: no heartbeat configured is a nil Pinger, which
// callers use as is.
func TestNilPingerPingsNothing(t *testing.T) {
	var p *heartbeat.Pinger
	p.Start(t.Context())
	p.Done(t.Context(), heartbeat.Cycle{Err: errors.New("x")})
	c := heartbeat.Defaults()
	if c.New(zap.NewNop()) != nil {
		t.Error("Defaults().New: got a Pinger, want nil (no URL)")
	}
}
