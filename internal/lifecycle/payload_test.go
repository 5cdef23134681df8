package lifecycle_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
)

// storedFinding has every field the stored format keeps.
func storedFinding() billing.Finding {
	f := billing.Finding{Rule: "recharge-burst", Severity: billing.SeverityCritical, Account: "acme", Entity: "recharges",
		At: lt.T0, Summary: "recharge-burst summary"}
	f.Evidence = []billing.Evidence{{What: "recharge", Ref: "cg_02", At: lt.T0, Amount: lt.USD("10.005"), Source: "openai:/x", AsOf: lt.T0.Add(time.Hour)}}
	f.Recommendation, f.Folded = "Disable auto-recharge.", []string{"recharge-above-threshold: ..."}
	f.State = billing.AccountState{Effective: lt.USD("33.05"), EffectiveKnown: true, Shown: lt.USD("69"), ShownKnown: true, ObservedAt: lt.T0,
		Runway: billing.Runway{Known: true, BurnPerDay: lt.USD("6.00"), Window: 3 * time.Hour, Lasts: 132 * time.Hour, Until: lt.T0.Add(132 * time.Hour)}}
	return f
}

func TestPayloadRoundTrip(t *testing.T) {
	f := storedFinding()
	for _, n := range []alert.Notification{
		{Status: alert.StatusFiring, Finding: f, At: lt.T0, Repeat: true},
		{Status: alert.StatusResolved, Finding: f, At: lt.T0.Add(9 * time.Hour)},
	} {
		b, err := lifecycle.EncodePayload(n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lifecycle.DecodePayload(b)
		if err != nil {
			t.Fatal(err)
		}
		if alert.Text(got) != alert.Text(n) || got.Repeat != n.Repeat || !got.At.Equal(n.At) {
			t.Errorf("round trip changed the notification:\ngot  %s\nwant %s", alert.Text(got), alert.Text(n))
		}
		if !got.Finding.Evidence[0].Amount.Amount().Equal(lt.USD("10.005").Amount()) {
			t.Errorf("evidence amount: got %s, want exactly 10.005", got.Finding.Evidence[0].Amount.Exact())
		}
	}
	bad := []byte(`{"status":"firing","rule":"r","severity":"loud"}`)
	if _, err := lifecycle.DecodePayload(bad); err == nil || !strings.Contains(err.Error(), `unknown severity "loud"`) {
		t.Errorf("bad severity: got %v", err)
	}
}

// TestPayloadVersion1 pins the stored format's version 1 byte for byte. It
// is what databases hold: if this test fails, the change needs a new
// version (and DecodePayload reading version 1 still), not a new golden
// file.
func TestPayloadVersion1(t *testing.T) {
	n := alert.Notification{Status: alert.StatusResolved, Finding: storedFinding(), At: lt.T0.Add(9 * time.Hour), Repeat: true}
	got, err := lifecycle.EncodePayload(n)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/payload-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.TrimSpace(want)) {
		t.Errorf("the stored format changed:\ngot  %s\nwant %s", got, want)
	}
}

func TestPayloadVersions(t *testing.T) {
	// What release 1 stored: the JSON of its alert.Record, with no version.
	release1 := `{"status":"firing","rule":"low-runway","severity":"critical","account":"beta","entity":"balance",` +
		`"fired_at":"2026-03-01T12:00:00Z","fingerprint":"` + billing.Fingerprint("low-runway", "beta", "balance") + `",` +
		`"summary":"runway 2 days","evidence":[{"what":"balance","at":"2026-03-01T12:00:00Z","amount":"12.50","currency":"CNY"}],` +
		`"balance":{"observed_at":"2026-03-01T12:00:00Z","currency":"CNY","effective":"12.50"}}`
	n, err := lifecycle.DecodePayload([]byte(release1))
	if err != nil {
		t.Fatalf("release 1 payload: %v", err)
	}
	if ev := n.Finding.Evidence[0].Amount; ev.Exact() != "12.5" || ev.Currency() != "CNY" || n.Finding.Rule != "low-runway" ||
		!n.Finding.State.Effective.Amount().Equal(lt.Money("12.50", "CNY").Amount()) {
		t.Errorf("release 1 payload: got %+v", n.Finding)
	}
	for _, tc := range []struct {
		name, payload, want string
	}{
		{"newer", `{"version":2,"status":"firing","rule":"r","severity":"info"}`,
			"stored notification (version 2): newer than this guardd understands (1)"},
		{"not JSON", `{"version":`, "stored notification: unexpected end of JSON input"},
		{"unknown status", `{"status":"pending","rule":"r","severity":"info"}`, `stored notification (version 1): unknown status "pending"`},
		{"bad amount", `{"version":1,"status":"firing","rule":"r","severity":"info","evidence":[{"what":"x","amount":"ten","currency":"USD"}]}`,
			"stored notification (version 1): evidence[0].amount: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lifecycle.DecodePayload([]byte(tc.payload))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want an error starting %q", err, tc.want)
			}
		})
	}
	// What this guardd writes says its version.
	b, err := lifecycle.EncodePayload(n)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Version int }
	if err := json.Unmarshal(b, &v); err != nil || v.Version != lifecycle.PayloadVersion {
		t.Errorf("version written: got %d (%v), want %d", v.Version, err, lifecycle.PayloadVersion)
	}
}

// TestPayloadDerivedBalance: a balance derived from an anchor says so in the
// message, and still does after the outbox stored and read it back.
func TestPayloadDerivedBalance(t *testing.T) {
	f := storedFinding()
	f.State.ShownKnown = false
	f.State.DerivedFrom = &billing.BalanceAnchor{Amount: lt.USD("40.00"), At: lt.T0.Add(-24 * time.Hour)}
	n := alert.Notification{Status: alert.StatusFiring, Finding: f, At: lt.T0}
	if text := alert.Text(n); !strings.Contains(text, "(derived: the $40.00 you read off the console at ") {
		t.Fatalf("the message does not say the balance is derived:\n%s", text)
	}
	b, err := lifecycle.EncodePayload(n)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"derived_from":{"amount":"40","at":"2026-09-30T00:00:00Z"}`) {
		t.Errorf("stored payload lacks the anchor: %s", b)
	}
	got, err := lifecycle.DecodePayload(b)
	if err != nil {
		t.Fatal(err)
	}
	if alert.Text(got) != alert.Text(n) || got.Finding.State.DerivedFrom == nil {
		t.Errorf("round trip lost the derived balance:\ngot  %s\nwant %s", alert.Text(got), alert.Text(n))
	}
}
