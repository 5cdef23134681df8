package store

import (
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/lifecycle"
)

// What the findings log, alerts, silences and the outbox keep and return is
// the lifecycle's port contract, run against the store in contract_test.go.
// The tests here pin the store's own words for what it refuses.

func TestFindings(t *testing.T) { eachBackend(t, testFindings) }

func testFindings(t *testing.T, b backend) {
	s := b.open(t, Options{})
	for _, tt := range []struct {
		r    lifecycle.FindingRecord
		want string
	}{
		{lifecycle.FindingRecord{Account: "prod", Rule: "r", Severity: "fatal", At: t0},
			`record finding r of account "prod": unknown severity "fatal": want info, warning or critical`},
		{lifecycle.FindingRecord{Account: "prod", Rule: "r", Fingerprint: "0123456789abcdef", Severity: billing.SeverityInfo, At: t0},
			`record finding r of account "prod": fingerprint 0123456789abcdef does not match rule "r", account "prod" and entity "" (want ` +
				billing.Fingerprint("r", "prod", "") + ")"},
		{lifecycle.FindingRecord{Account: "prod", Rule: "r", Severity: billing.SeverityInfo},
			`record finding r of account "prod": time is not set`},
	} {
		wantErr(t, s.Update(t.Context(), func(tx *Tx) error { return tx.RecordFinding(tt.r) }), tt.want)
	}
}

func TestAlerts(t *testing.T) { eachBackend(t, testAlerts) }

func testAlerts(t *testing.T, b backend) {
	s := b.open(t, Options{})
	resolved := lifecycle.Alert{
		Account: "dev", Rule: "low-runway", Entity: "balance", Severity: billing.SeverityWarning,
		State: lifecycle.Resolved, FiredAt: t0.Add(-time.Hour), ResolvedAt: t0.Add(time.Hour),
		AckedBy: "ana", AckedAt: t0.Add(-30 * time.Minute),
	}
	bad := func(edit func(a *lifecycle.Alert)) lifecycle.Alert {
		a := resolved
		edit(&a)
		return a
	}
	prefix := `store alert ` + billing.Fingerprint(resolved.Rule, resolved.Account, resolved.Entity) + ` (low-runway of account "dev"): `
	for _, tt := range []struct {
		a    lifecycle.Alert
		want string
	}{
		{bad(func(a *lifecycle.Alert) { a.State = "pending" }), prefix + `unknown state "pending": want firing or resolved`},
		{bad(func(a *lifecycle.Alert) { a.ResolvedAt = time.Time{} }), prefix + "a resolved alert needs ResolvedAt"},
		{bad(func(a *lifecycle.Alert) { a.State = lifecycle.Firing }), prefix + "a firing alert has no ResolvedAt (got 2026-03-01T13:00:00Z)"},
		{bad(func(a *lifecycle.Alert) { a.Finding = []byte("{") }), prefix + "the finding is not valid JSON"},
		{bad(func(a *lifecycle.Alert) { a.FiredAt = time.Time{} }), prefix + "fired at: time is not set"},
		{bad(func(a *lifecycle.Alert) { a.MissCount = -1 }), prefix + "miss count must not be negative (got -1)"},
	} {
		wantErr(t, s.Update(t.Context(), func(tx *Tx) error { return tx.PutAlert(tt.a) }), tt.want)
	}
	wantErr(t, s.View(t.Context(), func(tx *Tx) error { _, err := tx.Alerts("", "pending"); return err }),
		`read alerts of account "": unknown state "pending": want firing, resolved or empty`)
}
