package store

import (
	"bytes"
	"maps"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

func TestFindings(t *testing.T) {
	s := openTest(t, Options{})
	recs := []FindingRecord{
		{Account: "prod", Rule: "recharge-burst", Entity: "recharges", Severity: billing.SeverityCritical,
			At: t0, Summary: "3 recharges in 6 h"},
		{Account: "dev", Rule: "low-runway", Entity: "balance", Severity: billing.SeverityWarning,
			At: t0.Add(time.Minute), Silenced: true, Summary: "runway 2 days"},
		{Account: "prod", Rule: "phantom-grant", Entity: "cg_1", Fingerprint: billing.Fingerprint("phantom-grant", "prod", "cg_1"),
			Severity: billing.SeverityInfo, At: t0.Add(time.Hour), Summary: "grant without a charge"},
	}
	update(t, s, func(tx *Tx) error {
		for _, r := range recs {
			if err := tx.RecordFinding(r); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range recs {
		recs[i].Fingerprint = billing.Fingerprint(recs[i].Rule, recs[i].Account, recs[i].Entity)
	}
	tests := []struct {
		account string
		since   time.Time
		want    []FindingRecord
	}{
		{"prod", time.Time{}, []FindingRecord{recs[0], recs[2]}},
		{"prod", t0.Add(time.Second), []FindingRecord{recs[2]}},
		{"dev", time.Time{}, []FindingRecord{recs[1]}},
		{"", time.Time{}, recs},
	}
	for _, tt := range tests {
		view(t, s, func(tx *Tx) error {
			got, err := tx.Findings(tt.account, tt.since)
			if err != nil {
				return err
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%q since %s: got %d findings, want %d", tt.account, tt.since, len(got), len(tt.want))
			}
			for i := range got {
				if g, w := got[i], tt.want[i]; g != w || !g.At.Equal(w.At) {
					t.Errorf("%q since %s: finding %d: got %+v, want %+v", tt.account, tt.since, i, g, w)
				}
			}
			return nil
		})
	}
	for _, tt := range []struct {
		r    FindingRecord
		want string
	}{
		{FindingRecord{Account: "prod", Rule: "r", Severity: "fatal", At: t0},
			`record finding r of account "prod": unknown severity "fatal": want info, warning or critical`},
		{FindingRecord{Account: "prod", Rule: "r", Fingerprint: "0123456789abcdef", Severity: billing.SeverityInfo, At: t0},
			`record finding r of account "prod": fingerprint 0123456789abcdef does not match rule "r", account "prod" and entity "" (want ` +
				billing.Fingerprint("r", "prod", "") + ")"},
		{FindingRecord{Account: "prod", Rule: "r", Severity: billing.SeverityInfo},
			`record finding r of account "prod": time is not set`},
	} {
		wantErr(t, s.Update(t.Context(), func(tx *Tx) error { return tx.RecordFinding(tt.r) }), tt.want)
	}
}

func TestAlerts(t *testing.T) {
	s := openTest(t, Options{})
	firing := Alert{
		Account: "prod", Rule: "recharge-burst", Entity: "recharges", Severity: billing.SeverityCritical,
		State: Firing, FiredAt: t0, LastSentAt: t0.Add(time.Second), LastSeenAt: t0.Add(15 * time.Minute),
		MissCount: 1, Finding: []byte(`{"summary":"3 recharges in 6 h","amount":"108.00"}`),
		Receivers: map[string]ReceiverRef{"slack-ops": {Channel: "C123", MessageID: "1700000000.000100"}},
	}
	resolved := Alert{
		Account: "dev", Rule: "low-runway", Entity: "balance", Severity: billing.SeverityWarning,
		State: Resolved, FiredAt: t0.Add(-time.Hour), ResolvedAt: t0.Add(time.Hour),
		AckedBy: "ana", AckedAt: t0.Add(-30 * time.Minute),
	}
	update(t, s, func(tx *Tx) error {
		for _, a := range []Alert{firing, resolved} {
			if err := tx.PutAlert(a); err != nil {
				return err
			}
		}
		return nil
	})
	firing.Fingerprint = billing.Fingerprint(firing.Rule, firing.Account, firing.Entity)
	resolved.Fingerprint = billing.Fingerprint(resolved.Rule, resolved.Account, resolved.Entity)

	view(t, s, func(tx *Tx) error {
		got, ok, err := tx.Alert(firing.Fingerprint)
		if err != nil {
			return err
		}
		if !ok {
			t.Fatal("got no alert, want the firing one")
		}
		checkAlert(t, got, firing)
		if _, ok, err := tx.Alert("0000000000000000"); ok || err != nil {
			t.Errorf("unknown fingerprint: got %v, %v, want false, nil", ok, err)
		}
		for _, tt := range []struct {
			account, state string
			want           []Alert
		}{
			{"", "", []Alert{resolved, firing}}, // in the order they fired
			{"prod", "", []Alert{firing}},
			{"", Firing, []Alert{firing}},
			{"", Resolved, []Alert{resolved}},
			{"dev", Firing, nil},
		} {
			got, err := tx.Alerts(tt.account, tt.state)
			if err != nil {
				return err
			}
			if len(got) != len(tt.want) {
				t.Errorf("%q, %q: got %d alerts, want %d", tt.account, tt.state, len(got), len(tt.want))
				continue
			}
			for i := range got {
				checkAlert(t, got[i], tt.want[i])
			}
		}
		return nil
	})

	// Upsert: the orchestrator resolves the firing alert.
	firing.State, firing.ResolvedAt, firing.MissCount, firing.Receivers = Resolved, t0.Add(2*time.Hour), 3, nil
	update(t, s, func(tx *Tx) error { return tx.PutAlert(firing) })
	view(t, s, func(tx *Tx) error {
		got, _, err := tx.Alert(firing.Fingerprint)
		checkAlert(t, got, firing)
		return err
	})

	bad := func(edit func(a *Alert)) Alert {
		a := resolved
		edit(&a)
		return a
	}
	prefix := `store alert ` + resolved.Fingerprint + ` (low-runway of account "dev"): `
	for _, tt := range []struct {
		a    Alert
		want string
	}{
		{bad(func(a *Alert) { a.State = "pending" }), prefix + `unknown state "pending": want firing or resolved`},
		{bad(func(a *Alert) { a.ResolvedAt = time.Time{} }), prefix + "a resolved alert needs ResolvedAt"},
		{bad(func(a *Alert) { a.State = Firing }), prefix + "a firing alert has no ResolvedAt (got 2026-03-01T13:00:00Z)"},
		{bad(func(a *Alert) { a.Finding = []byte("{") }), prefix + "the finding is not valid JSON"},
		{bad(func(a *Alert) { a.FiredAt = time.Time{} }), prefix + "fired at: time is not set"},
		{bad(func(a *Alert) { a.MissCount = -1 }), prefix + "miss count must not be negative (got -1)"},
	} {
		wantErr(t, s.Update(t.Context(), func(tx *Tx) error { return tx.PutAlert(tt.a) }), tt.want)
	}
	wantErr(t, s.View(t.Context(), func(tx *Tx) error { _, err := tx.Alerts("", "pending"); return err }),
		`read alerts of account "": unknown state "pending": want firing, resolved or empty`)
}

func checkAlert(t *testing.T, got, want Alert) {
	t.Helper()
	times := func(a Alert) []time.Time {
		return []time.Time{a.FiredAt, a.LastSentAt, a.ResolvedAt, a.LastSeenAt, a.AckedAt}
	}
	g, w := times(got), times(want)
	for i := range g {
		if !g[i].Equal(w[i]) {
			t.Errorf("alert %s: time %d: got %s, want %s", want.Fingerprint, i, g[i], w[i])
		}
	}
	if !bytes.Equal(got.Finding, want.Finding) || !maps.Equal(got.Receivers, want.Receivers) {
		t.Errorf("alert %s: got finding %s, receivers %v, want %s, %v", want.Fingerprint,
			got.Finding, got.Receivers, want.Finding, want.Receivers)
	}
	type plain struct {
		Fingerprint, Account, Rule, Entity, State, AckedBy string
		Severity                                           billing.Severity
		MissCount                                          int
	}
	pg := plain{got.Fingerprint, got.Account, got.Rule, got.Entity, got.State, got.AckedBy, got.Severity, got.MissCount}
	pw := plain{want.Fingerprint, want.Account, want.Rule, want.Entity, want.State, want.AckedBy, want.Severity, want.MissCount}
	if pg != pw {
		t.Errorf("alert %s: got %+v, want %+v", want.Fingerprint, pg, pw)
	}
}
