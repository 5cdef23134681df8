package alertmanager_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/alertmanager"
	"github.com/guardd/guardd/internal/alert/alertmanager/alertmanagertest"
	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/clock"
)

// TestWatchdogRidesEveryResend: with watchdog on, every resend carries
// GuarddWatchdog, even with no alert firing, active from the clock's now
// for the watchdog timeout; the first messages (Send) never do, and with
// watchdog off a resend of nothing sends nothing.
func TestWatchdogRidesEveryResend(t *testing.T) {
	now := time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC)
	n := receivertest.ByRule("recharge-burst")
	for _, tc := range []struct {
		name     string
		watchdog bool
		send     func(*alertmanager.Receiver) error
		want     []string // per request, the alertnames it carried
	}{
		{"resend, nothing firing", true, func(r *alertmanager.Receiver) error { return r.Resend(t.Context(), nil) },
			[]string{"[GuarddWatchdog]"}},
		{"resend, one firing", true, func(r *alertmanager.Receiver) error { return r.Resend(t.Context(), []alert.Notification{n}) },
			[]string{"[recharge-burst GuarddWatchdog]"}},
		{"first message", true, func(r *alertmanager.Receiver) error { _, _, err := r.Send(t.Context(), n); return err },
			[]string{"[recharge-burst]"}},
		{"off, resend of nothing", false, func(r *alertmanager.Receiver) error { return r.Resend(t.Context(), nil) },
			nil},
		{"off, resend, one firing", false, func(r *alertmanager.Receiver) error { return r.Resend(t.Context(), []alert.Notification{n}) },
			[]string{"[recharge-burst]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fake(t, receivertest.OK, "")
			r := alertmanager.New(alertmanager.Options{URLs: []string{srv.Base()}, Watchdog: tc.watchdog,
				WatchdogTimeout: 5 * time.Minute, Clock: clock.Fixed(now)})
			if err := tc.send(r); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, req := range srv.Requests() {
				var as []alertmanager.Alert
				if err := json.Unmarshal(req.Body, &as); err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, a := range as {
					names = append(names, a.Labels["alertname"])
					if a.Labels["alertname"] != alertmanager.WatchdogName {
						continue
					}
					if fmt.Sprint(a.Labels) != "map[alertname:GuarddWatchdog severity:none]" {
						t.Errorf("watchdog labels: got %v, want alertname and severity none only", a.Labels)
					}
					if a.StartsAt != "2026-10-14T09:00:00Z" || a.EndsAt != "2026-10-14T09:05:00Z" {
						t.Errorf("watchdog startsAt/endsAt: got %s %s, want now and the watchdog timeout after", a.StartsAt, a.EndsAt)
					}
					if a.Annotations["summary"] == "" || a.Annotations["description"] == "" {
						t.Errorf("watchdog annotations: got %v, want a summary and a description", a.Annotations)
					}
				}
				got = append(got, fmt.Sprint(names))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("requests: got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRealAlertmanagerWatchdog resends to a real Alertmanager with the
// watchdog on and a short watchdog timeout: the watchdog stays active while
// the resends go on, past the timeout of the first one, and ends by itself
// once they stop, which is what a dead-man's route notices. The firing
// alert sent with it, whose resolve timeout is long, stays.
func TestRealAlertmanagerWatchdog(t *testing.T) {
	am := alertmanagertest.Start(t)
	const timeout = 3 * time.Second
	r := alertmanager.New(alertmanager.Options{URLs: []string{am.URL()}, Watchdog: true, WatchdogTimeout: timeout})
	n := receivertest.ByRule("recharge-burst")
	first := time.Now()
	for time.Since(first) < 5*timeout/2 {
		sent := time.Now()
		if err := r.Resend(t.Context(), []alert.Notification{n}); err != nil {
			t.Fatal(err)
		}
		w := watchdogOf(t, am)
		if w == nil || w.Status.State != "active" || w.EndsAt.Before(sent.Add(timeout-time.Second)) {
			t.Fatalf("%s after the first resend: got watchdog %+v, want it active, ending a watchdog timeout after the last resend\n%s",
				time.Since(first).Round(time.Millisecond), w, am.Log())
		}
		time.Sleep(timeout / 4)
	}
	// The resends stop, as when guardd stops: the watchdog ends.
	deadline := time.Now().Add(time.Minute)
	for watchdogOf(t, am) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the watchdog is still active a minute after the last resend: %+v", watchdogOf(t, am))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var burst int
	for _, a := range am.Alerts(t) {
		if a.Labels["alertname"] == "recharge-burst" && a.Status.State == "active" {
			burst++
		}
	}
	if burst != 1 {
		t.Errorf("recharge-burst after the watchdog ended: got %d active, want 1 (its resolve timeout is long)", burst)
	}
}

// watchdogOf returns am's active watchdog alert, nil when there is none.
func watchdogOf(t *testing.T, am *alertmanagertest.Server) *alertmanagertest.Alert {
	t.Helper()
	for _, a := range am.Alerts(t) {
		if a.Labels["alertname"] == alertmanager.WatchdogName && a.Status.State == "active" {
			return &a
		}
	}
	return nil
}
