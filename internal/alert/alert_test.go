package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// fakeNotifier answers Send with SendFunc and counts calls.
type fakeNotifier struct {
	SendFunc func(call int, n alert.Notification) (alert.Ref, bool, error)
	calls    int
	got      []alert.Notification
}

var _ alert.Notifier = (*fakeNotifier)(nil)

func (f *fakeNotifier) Send(_ context.Context, n alert.Notification) (alert.Ref, bool, error) {
	f.calls++
	ref, retry, err := f.SendFunc(f.calls, n)
	if err == nil {
		f.got = append(f.got, n)
	}
	return ref, retry, err
}

type waitErr struct{ d time.Duration }

func (e waitErr) Error() string             { return "rate limited" }
func (e waitErr) RetryAfter() time.Duration { return e.d }

func finding(rule string, sev billing.Severity) billing.Finding {
	return billing.Finding{Rule: rule, Severity: sev, Account: "acme", Entity: "recharges", At: lt.T0, Summary: rule + " summary"}
}

func firing(rule string, sev billing.Severity) alert.Notification {
	return alert.Notification{Status: alert.StatusFiring, Finding: finding(rule, sev), At: lt.T0}
}

func TestDispatcherRetries(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(call int) (bool, error)
		wantCalls int
		wantWaits []time.Duration
		wantErr   string
	}{
		{"ok first time", func(int) (bool, error) { return false, nil }, 1, nil, ""},
		{
			"retryable twice then ok, back-off doubles",
			func(c int) (bool, error) {
				if c < 3 {
					return true, errors.New("HTTP 503")
				}
				return false, nil
			},
			3, []time.Duration{time.Second, 2 * time.Second}, "",
		},
		{
			"Retry-After longer than the back-off is honoured",
			func(c int) (bool, error) {
				if c == 1 {
					return true, waitErr{30 * time.Second}
				}
				return false, nil
			},
			2, []time.Duration{30 * time.Second}, "",
		},
		{
			"Retry-After is capped",
			func(c int) (bool, error) {
				if c == 1 {
					return true, waitErr{time.Hour}
				}
				return false, nil
			},
			2, []time.Duration{time.Minute}, "",
		},
		{
			"permanent failure is not retried",
			func(int) (bool, error) { return false, errors.New("no_service") },
			1, nil, "receiver r: 1 of 1 notifications not delivered: send recharge-burst firing: no_service",
		},
		{
			"gives up after three attempts",
			func(int) (bool, error) { return true, errors.New("HTTP 500") },
			3, []time.Duration{time.Second, 2 * time.Second}, "gave up after 3 attempts: send recharge-burst firing: HTTP 500",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &fakeNotifier{SendFunc: func(c int, _ alert.Notification) (alert.Ref, bool, error) {
				retry, err := tc.answer(c)
				return alert.Ref{}, retry, err
			}}
			var waits []time.Duration
			d := &alert.Dispatcher{
				Receivers: []alert.Receiver{{Name: "r", Notifier: n}},
				Sleep:     func(_ context.Context, w time.Duration) error { waits = append(waits, w); return nil },
			}
			err := d.Dispatch(context.Background(), []alert.Notification{firing("recharge-burst", billing.SeverityCritical)})
			if n.calls != tc.wantCalls {
				t.Errorf("calls: got %d, want %d", n.calls, tc.wantCalls)
			}
			if fmt.Sprint(waits) != fmt.Sprint(tc.wantWaits) {
				t.Errorf("waits: got %v, want %v", waits, tc.wantWaits)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error: got %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error: got %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDispatcherRoutesBySeverityAndIsolatesReceivers(t *testing.T) {
	broken := &fakeNotifier{SendFunc: func(int, alert.Notification) (alert.Ref, bool, error) { return alert.Ref{}, false, errors.New("down") }}
	pager := &fakeNotifier{SendFunc: func(int, alert.Notification) (alert.Ref, bool, error) { return alert.Ref{}, false, nil }}
	all := &fakeNotifier{SendFunc: func(int, alert.Notification) (alert.Ref, bool, error) { return alert.Ref{}, false, nil }}
	d := &alert.Dispatcher{Receivers: []alert.Receiver{
		{Name: "broken", MinSeverity: billing.SeverityInfo, Notifier: broken},
		{Name: "pager", MinSeverity: billing.SeverityCritical, Notifier: pager},
		{Name: "all", MinSeverity: billing.SeverityInfo, Notifier: all},
	}}
	ns := []alert.Notification{firing("recharge-burst", billing.SeverityCritical), firing("phantom-balance", billing.SeverityWarning)}
	err := d.Dispatch(context.Background(), ns)
	if err == nil || !strings.Contains(err.Error(), "receiver broken: 2 of 2") {
		t.Errorf("error: got %v, want the broken receiver's two failures", err)
	}
	if len(pager.got) != 1 || pager.got[0].Finding.Rule != "recharge-burst" {
		t.Errorf("pager: got %d notifications, want only the critical one", len(pager.got))
	}
	if len(all.got) != 2 {
		t.Errorf("all: got %d notifications, want 2 despite the broken receiver", len(all.got))
	}
}

func TestWriterJSONLines(t *testing.T) {
	var buf bytes.Buffer
	w := alert.NewWriter(&buf, alert.FormatJSON)
	f := finding("recharge-burst", billing.SeverityCritical)
	f.Evidence = []billing.Evidence{{What: "recharge", Ref: "cg_02", At: lt.T0, Amount: lt.USD("10.00"), Source: "openai:/x", AsOf: lt.T0}}
	f.Recommendation = "Disable auto-recharge."
	f.State = billing.AccountState{Effective: lt.USD("33.05"), EffectiveKnown: true, ObservedAt: lt.T0}
	if _, _, err := w.Send(context.Background(), alert.Notification{Status: alert.StatusFiring, Finding: f, At: lt.T0}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("lines: got %d, want 1", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"status": "firing", "rule": "recharge-burst", "severity": "critical", "account": "acme",
		"fired_at": "2026-10-01T00:00:00Z", "fingerprint": billing.Fingerprint("recharge-burst", "acme", "recharges"),
		"summary": "recharge-burst summary", "recommendation": "Disable auto-recharge.",
	} {
		if rec[key] != want {
			t.Errorf("%s: got %v, want %v", key, rec[key], want)
		}
	}
	ev := rec["evidence"].([]any)[0].(map[string]any)
	if ev["amount"] != "10" || ev["currency"] != "USD" || ev["source"] != "openai:/x" {
		t.Errorf("evidence: got %v, want amount 10 USD from openai:/x", ev)
	}
	bal := rec["balance"].(map[string]any)
	if bal["effective"] != "33.05" {
		t.Errorf("balance.effective: got %v, want \"33.05\"", bal["effective"])
	}
	if _, ok := bal["shown"]; ok {
		t.Errorf("balance.shown present although unknown: %v", bal)
	}
}

func TestDeliverReturnsTheRef(t *testing.T) {
	want := alert.Ref{Channel: "C0ALERTS", MessageID: "1700000000.000100"}
	n := &fakeNotifier{SendFunc: func(c int, _ alert.Notification) (alert.Ref, bool, error) {
		if c == 1 {
			// A ref that comes with an error is not the message's.
			return alert.Ref{Channel: "C0ALERTS", MessageID: "stale"}, true, errors.New("HTTP 503")
		}
		return want, false, nil
	}}
	d := &alert.Dispatcher{Sleep: func(context.Context, time.Duration) error { return nil }}
	r := alert.Receiver{Name: "r", Notifier: n}
	got, err := d.Deliver(context.Background(), r, firing("recharge-burst", billing.SeverityCritical))
	if err != nil || got != want || n.calls != 2 {
		t.Errorf("got ref %+v, error %v after %d calls; want %+v, nil after 2", got, err, n.calls, want)
	}

	failing := &fakeNotifier{SendFunc: func(int, alert.Notification) (alert.Ref, bool, error) {
		return alert.Ref{Channel: "C0ALERTS", MessageID: "stale"}, false, errors.New("no_service")
	}}
	got, err = d.Deliver(context.Background(), alert.Receiver{Name: "r", Notifier: failing}, firing("recharge-burst", billing.SeverityCritical))
	if err == nil || !got.IsZero() {
		t.Errorf("got ref %+v, error %v; want no ref and an error", got, err)
	}
}

// TestWriterWriteAll prints several notifications as many Sends would,
// byte for byte, in both formats.
func TestWriterWriteAll(t *testing.T) {
	ns := []alert.Notification{firing("recharge-burst", billing.SeverityCritical), firing("phantom-balance", billing.SeverityWarning)}
	for _, format := range []alert.Format{alert.FormatText, alert.FormatJSON} {
		var sent, all bytes.Buffer
		one := alert.NewWriter(&sent, format)
		for _, n := range ns {
			if ref, retry, err := one.Send(context.Background(), n); err != nil || retry || !ref.IsZero() {
				t.Fatalf("%s: Send: got ref %+v, retry %t, error %v", format, ref, retry, err)
			}
		}
		many := alert.NewWriter(&all, format)
		if err := many.WriteAll(ns); err != nil {
			t.Fatal(err)
		}
		if sent.String() != all.String() || many.Count() != 2 {
			t.Errorf("%s: WriteAll printed\n%s\n(count %d), want what two Sends print\n%s", format, all.String(), many.Count(), sent.String())
		}
		if sep := "Fingerprint: " + ns[0].Finding.Fingerprint() + "\n\n[WARNING]"; format == alert.FormatText && !strings.Contains(all.String(), sep) {
			t.Errorf("text: got\n%s\nwant the notifications separated by one blank line", all.String())
		}
	}
}

func TestLogFields(t *testing.T) {
	n := firing("recharge-burst", billing.SeverityCritical)
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range n.LogFields(zap.Int("recipients", 2)) {
		f.AddTo(enc)
	}
	want := map[string]any{"status": "firing", "rule": "recharge-burst", "account": "acme",
		"fingerprint": n.Finding.Fingerprint(), "recipients": int64(2)}
	if fmt.Sprint(enc.Fields) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", enc.Fields, want)
	}
}
