package alert_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
)

func TestDigest(t *testing.T) {
	var ns []alert.Notification
	for i := range 4 {
		n := firing(fmt.Sprintf("rule-%d", i), billing.SeverityWarning)
		n.Finding.State = billing.AccountState{Effective: lt.USD(fmt.Sprint(i)), EffectiveKnown: true, ObservedAt: lt.T0.AddDate(0, 0, i)}
		ns = append(ns, n)
	}
	ns[2].Finding.Severity = billing.SeverityCritical
	ns[3].Status = alert.StatusResolved
	d := alert.Digest(ns, "4 more notifications", lt.T0)
	f := d.Finding
	if f.Rule != alert.DigestRule || f.Severity != billing.SeverityCritical || f.Summary != "4 more notifications" || d.Status != alert.StatusFiring {
		t.Errorf("digest: got rule %s severity %s summary %q status %s", f.Rule, f.Severity, f.Summary, d.Status)
	}
	if f.Account != "acme" || !f.State.Effective.Amount().Equal(lt.USD("3").Amount()) {
		t.Errorf("account and state: got %q %s, want acme with the latest state", f.Account, f.State.Effective)
	}
	want := []string{
		"[WARNING] rule-0 on acme: rule-0 summary",
		"[WARNING] rule-1 on acme: rule-1 summary",
		"[CRITICAL] rule-2 on acme: rule-2 summary",
		"[RESOLVED] rule-3 on acme: no longer holds",
	}
	if fmt.Sprint(f.Folded) != fmt.Sprint(want) {
		t.Errorf("folded:\ngot  %q\nwant %q", f.Folded, want)
	}
	// The same notifications in another order give the same fingerprint.
	rev := []alert.Notification{ns[3], ns[2], ns[1], ns[0]}
	if alert.Digest(rev, "x", lt.T0).Finding.Fingerprint() != f.Fingerprint() {
		t.Error("digest fingerprint depends on order")
	}
	ns[0].Finding.Account = "beta"
	if got := alert.Digest(ns, "x", lt.T0).Finding.Account; got != "several accounts" {
		t.Errorf("two accounts: got %q, want several accounts", got)
	}
	long := firing("r", billing.SeverityInfo)
	long.Finding.Summary = strings.Repeat("é", 400)
	if line := alert.Digest([]alert.Notification{long}, "x", lt.T0).Finding.Folded[0]; len([]rune(line)) != 300 || !strings.HasSuffix(line, "…") {
		t.Errorf("long line: got %d runes, want 300 ending in …", len([]rune(line)))
	}
}
