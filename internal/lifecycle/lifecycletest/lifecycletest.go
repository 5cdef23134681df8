// Package lifecycletest is the contract of the lifecycle's ports: one suite
// that every implementation of lifecycle.Store passes (the SQLite state
// store, Memory, Overlay, and the next backend), so that the lifecycle
// behaves the same whichever keeps its state.
package lifecycletest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/lifecycle"
)

// T0 is the start of the suite's clock.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the contract suite; open returns a new, empty Store for each
// subtest (and cleans it up with t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) lifecycle.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s lifecycle.Store)
	}{
		{"alerts", testAlerts},
		{"times come back in UTC", testUTC},
		{"alert validation", testAlertValidation},
		{"see alert", testSeeAlert},
		{"findings", testFindings},
		{"silences", testSilences},
		{"silence errors", testSilenceErrors},
		{"outbox", testOutbox},
		{"outbox errors", testOutboxErrors},
		{"claims", testClaims},
		{"messages sent", testMessagesSent},
		{"update is all or nothing", testAtomic},
		{"view is read-only", testReadOnly},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func update(t *testing.T, s lifecycle.Store, fn func(tx lifecycle.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, s lifecycle.Store, fn func(tx lifecycle.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// wantErr fails unless err's text contains want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("got no error, want one containing %q", want)
	case !strings.Contains(err.Error(), want):
		t.Errorf("got error %q, want one containing %q", err, want)
	}
}

// sameTime fails unless got and want are the same instant, in UTC.
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || (!got.IsZero() && got.Location() != time.UTC) {
		t.Errorf("%s: got %s, want %s in UTC", what, got, want.UTC())
	}
}

// growing reports whether every id is greater than the one before.
func growing(ids []int64) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			return false
		}
	}
	return true
}

// elsewhere is a zone the suite writes times in, to see them come back in
// UTC.
var elsewhere = time.FixedZone("UTC+5", 5*60*60)

func firingAlert() lifecycle.Alert {
	return lifecycle.Alert{
		Account: "prod", Rule: "recharge-burst", Entity: "recharges", Severity: billing.SeverityCritical,
		State: lifecycle.Firing, FiredAt: T0, LastSentAt: T0.Add(time.Second), LastSeenAt: T0.Add(15 * time.Minute),
		MissCount: 1, Finding: []byte(`{"summary":"3 recharges in 6 h","amount":"108.00"}`),
		Receivers: map[string]lifecycle.ReceiverRef{"slack-ops": {Channel: "C123", MessageID: "1700000000.000100"}},
	}
}

func resolvedAlert() lifecycle.Alert {
	return lifecycle.Alert{
		Account: "dev", Rule: "low-runway", Entity: "balance", Severity: billing.SeverityWarning,
		State: lifecycle.Resolved, FiredAt: T0.Add(-time.Hour), ResolvedAt: T0.Add(time.Hour),
		AckedBy: "ana", AckedAt: T0.Add(-30 * time.Minute),
	}
}

// checkAlert compares every field of two alerts.
func checkAlert(t *testing.T, got, want lifecycle.Alert) {
	t.Helper()
	for i, pair := range [][2]time.Time{{got.FiredAt, want.FiredAt}, {got.LastSentAt, want.LastSentAt},
		{got.ResolvedAt, want.ResolvedAt}, {got.LastSeenAt, want.LastSeenAt}, {got.AckedAt, want.AckedAt}} {
		sameTime(t, fmt.Sprintf("alert %s: time %d", want.Fingerprint, i), pair[0], pair[1])
	}
	got.FiredAt, got.LastSentAt, got.ResolvedAt, got.LastSeenAt, got.AckedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	want.FiredAt, want.LastSentAt, want.ResolvedAt, want.LastSeenAt, want.AckedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if string(got.Finding) != string(want.Finding) || !maps.Equal(got.Receivers, want.Receivers) {
		t.Errorf("alert %s: got finding %s, receivers %v, want %s, %v", want.Fingerprint, got.Finding, got.Receivers, want.Finding, want.Receivers)
	}
	got.Finding, got.Receivers, want.Finding, want.Receivers = nil, nil, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alert %s: got %+v, want %+v", want.Fingerprint, got, want)
	}
}

func testAlerts(t *testing.T, s lifecycle.Store) {
	firing, resolved := firingAlert(), resolvedAlert()
	update(t, s, func(tx lifecycle.Tx) error { return errors.Join(tx.PutAlert(firing), tx.PutAlert(resolved)) })
	firing.Fingerprint = billing.Fingerprint(firing.Rule, firing.Account, firing.Entity)
	resolved.Fingerprint = billing.Fingerprint(resolved.Rule, resolved.Account, resolved.Entity)
	view(t, s, func(tx lifecycle.Tx) error {
		got, ok, err := tx.Alert(firing.Fingerprint)
		if err != nil || !ok {
			t.Fatalf("got %v, %v, want the firing alert", ok, err)
		}
		checkAlert(t, got, firing)
		// What a caller does with the alert it got is its own business.
		got.Receivers["slack-ops"] = lifecycle.ReceiverRef{Channel: "changed"}
		got.Finding[0] = '['
		if again, _, _ := tx.Alert(firing.Fingerprint); again.Receivers["slack-ops"].Channel != "C123" || again.Finding[0] != '{' {
			t.Errorf("changing a returned alert changed the stored one: %+v", again)
		}
		if _, ok, err := tx.Alert("0000000000000000"); ok || err != nil {
			t.Errorf("unknown fingerprint: got %v, %v, want false, nil", ok, err)
		}
		for _, tt := range []struct {
			account string
			state   lifecycle.State
			want    []lifecycle.Alert
		}{
			{"", "", []lifecycle.Alert{resolved, firing}}, // in the order they fired
			{"prod", "", []lifecycle.Alert{firing}},
			{"", lifecycle.Firing, []lifecycle.Alert{firing}},
			{"", lifecycle.Resolved, []lifecycle.Alert{resolved}},
			{"dev", lifecycle.Firing, nil},
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
		_, err = tx.Alerts("", "pending")
		wantErr(t, err, `unknown state "pending"`)
		// FiringAlerts: an account's firing alerts as Alerts gives them,
		// but for their findings.
		light := firing
		light.Finding = nil
		for account, want := range map[string][]lifecycle.Alert{"prod": {light}, "dev": nil} {
			got, err := tx.FiringAlerts(account)
			if err != nil {
				return err
			}
			if len(got) != len(want) {
				t.Errorf("firing alerts of %q: got %d, want %d", account, len(got), len(want))
				continue
			}
			for i := range got {
				checkAlert(t, got[i], want[i])
			}
		}
		return nil
	})

	// Two alerts firing at the same time come in fingerprint order.
	twin := firingAlert()
	twin.Entity = "other"
	update(t, s, func(tx lifecycle.Tx) error { return tx.PutAlert(twin) })
	view(t, s, func(tx lifecycle.Tx) error {
		as, err := tx.Alerts("prod", "")
		if len(as) != 2 || as[0].Fingerprint > as[1].Fingerprint {
			t.Errorf("alerts firing at once: got %d, want 2 in fingerprint order", len(as))
		}
		return err
	})

	// Upsert: the lifecycle resolves the firing alert and forgets its refs.
	firing.State, firing.ResolvedAt, firing.MissCount, firing.Receivers = lifecycle.Resolved, T0.Add(2*time.Hour), 3, nil
	update(t, s, func(tx lifecycle.Tx) error { return tx.PutAlert(firing) })
	view(t, s, func(tx lifecycle.Tx) error {
		got, _, err := tx.Alert(firing.Fingerprint)
		checkAlert(t, got, firing)
		return err
	})
}

// testSeeAlert: SeeAlert changes a firing alert's LastSeenAt and MissCount
// and nothing else of it, in its transaction; it refuses an alert that is
// not stored firing and a negative miss count.
func testSeeAlert(t *testing.T, s lifecycle.Store) {
	firing, resolved := firingAlert(), resolvedAlert()
	firing.AckedBy, firing.AckedAt = "ana", T0.Add(time.Minute)
	update(t, s, func(tx lifecycle.Tx) error { return errors.Join(tx.PutAlert(firing), tx.PutAlert(resolved)) })
	firing.Fingerprint = billing.Fingerprint(firing.Rule, firing.Account, firing.Entity)
	resolved.Fingerprint = billing.Fingerprint(resolved.Rule, resolved.Account, resolved.Entity)
	seenAt := T0.Add(30 * time.Minute).In(time.FixedZone("UTC+2", 7200))
	update(t, s, func(tx lifecycle.Tx) error { return tx.SeeAlert(firing.Fingerprint, seenAt, 2) })
	want := firing
	want.LastSeenAt, want.MissCount = seenAt, 2
	check := func(what string) {
		t.Helper()
		view(t, s, func(tx lifecycle.Tx) error {
			got, _, err := tx.Alert(firing.Fingerprint)
			if got.LastSeenAt.Location() != time.UTC {
				t.Errorf("%s: last seen %v, want it in UTC", what, got.LastSeenAt)
			}
			checkAlert(t, got, want)
			other, _, err2 := tx.Alert(resolved.Fingerprint)
			checkAlert(t, other, resolved)
			return errors.Join(err, err2)
		})
	}
	check("seen")
	// A failed transaction keeps nothing of it.
	failed := errors.New("failed")
	if err := s.Update(context.Background(), func(tx lifecycle.Tx) error {
		if err := tx.SeeAlert(firing.Fingerprint, T0.Add(time.Hour), 0); err != nil {
			return err
		}
		return failed
	}); err != failed {
		t.Errorf("update: got %v, want %v", err, failed)
	}
	check("seen, then rolled back")
	for _, tt := range []struct {
		fp     string
		at     time.Time
		misses int
		want   string
	}{
		{resolved.Fingerprint, T0, 0, "see alert " + resolved.Fingerprint + ": no such alert firing"},
		{"0000000000000000", T0, 0, "see alert 0000000000000000: no such alert firing"},
		{firing.Fingerprint, T0, -1, "miss count -1 is negative"},
	} {
		err := s.Update(context.Background(), func(tx lifecycle.Tx) error { return tx.SeeAlert(tt.fp, tt.at, tt.misses) })
		wantErr(t, err, tt.want)
		if strings.HasSuffix(tt.want, "no such alert firing") && !errors.Is(err, lifecycle.ErrNotFiring) {
			t.Errorf("see alert %s: got %v, want it to wrap ErrNotFiring", tt.fp, err)
		}
	}
	check("after refusals")
	// No time is none, as PutAlert takes it (an alert stored by an older
	// guardd may have none).
	update(t, s, func(tx lifecycle.Tx) error { return tx.SeeAlert(firing.Fingerprint, time.Time{}, 0) })
	want.LastSeenAt, want.MissCount = time.Time{}, 0
	check("seen with no time")
}

// testUTC writes times in another zone and reads them back in UTC.
func testUTC(t *testing.T, s lifecycle.Store) {
	a := firingAlert()
	a.FiredAt, a.AckedBy, a.AckedAt = T0.In(elsewhere), "ana", T0.In(elsewhere)
	update(t, s, func(tx lifecycle.Tx) error {
		_, err1 := tx.AddSilence(lifecycle.Silence{Rule: "r", Start: T0.In(elsewhere), End: T0.Add(time.Hour).In(elsewhere), Comment: "c"})
		_, err2 := tx.Enqueue(item("slack", T0.In(elsewhere)))
		return errors.Join(tx.PutAlert(a), err1, err2,
			tx.RecordFinding(lifecycle.FindingRecord{Account: "prod", Rule: "r", Severity: billing.SeverityInfo, At: T0.In(elsewhere)}))
	})
	view(t, s, func(tx lifecycle.Tx) error {
		as, err1 := tx.Alerts("", "")
		fs, err2 := tx.Findings("", time.Time{})
		ss, err3 := tx.Silences(time.Time{})
		items, err4 := tx.Due(T0, 0)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return err
		}
		if len(as) != 1 || len(fs) != 1 || len(ss) != 1 || len(items) != 1 {
			t.Fatalf("got %d alerts, %d findings, %d silences and %d items, want one of each", len(as), len(fs), len(ss), len(items))
		}
		for _, tt := range []struct {
			what string
			got  time.Time
		}{
			{"alert fired at", as[0].FiredAt}, {"alert acked at", as[0].AckedAt}, {"finding at", fs[0].At},
			{"silence start", ss[0].Start}, {"silence end", ss[0].End.Add(-time.Hour)},
			{"item created at", items[0].CreatedAt}, {"item next attempt at", items[0].NextAttemptAt},
		} {
			sameTime(t, tt.what, tt.got, T0)
		}
		return nil
	})
}

func testAlertValidation(t *testing.T, s lifecycle.Store) {
	bad := func(edit func(a *lifecycle.Alert)) lifecycle.Alert {
		a := resolvedAlert()
		edit(&a)
		return a
	}
	for _, tt := range []struct {
		a    lifecycle.Alert
		want string
	}{
		{bad(func(a *lifecycle.Alert) { a.Account = "" }), "empty account"},
		{bad(func(a *lifecycle.Alert) { a.Rule = "" }), "empty rule"},
		{bad(func(a *lifecycle.Alert) { a.Severity = "fatal" }), `unknown severity "fatal"`},
		{bad(func(a *lifecycle.Alert) { a.Fingerprint = "0123456789abcdef" }), "fingerprint 0123456789abcdef does not match"},
		{bad(func(a *lifecycle.Alert) { a.State = "pending" }), `unknown state "pending": want firing or resolved`},
		{bad(func(a *lifecycle.Alert) { a.ResolvedAt = time.Time{} }), "a resolved alert needs ResolvedAt"},
		{bad(func(a *lifecycle.Alert) { a.State = lifecycle.Firing }), "a firing alert has no ResolvedAt (got 2026-03-01T13:00:00Z)"},
		{bad(func(a *lifecycle.Alert) { a.Finding = []byte("{") }), "the finding is not valid JSON"},
		{bad(func(a *lifecycle.Alert) { a.FiredAt = time.Time{} }), "fired at: time is not set"},
		{bad(func(a *lifecycle.Alert) { a.MissCount = -1 }), "miss count must not be negative (got -1)"},
		{bad(func(a *lifecycle.Alert) { a.AckedBy = "" }), "AckedAt is set but AckedBy is empty"},
		{bad(func(a *lifecycle.Alert) { a.Receivers = map[string]lifecycle.ReceiverRef{"": {}} }), "a receiver has an empty name"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			wantErr(t, s.Update(context.Background(), func(tx lifecycle.Tx) error { return tx.PutAlert(tt.a) }), tt.want)
		})
	}
	if n := countAlerts(t, s); n != 0 {
		t.Errorf("got %d alerts after only invalid ones, want none", n)
	}
}

// countAlerts returns how many alerts s keeps.
func countAlerts(t *testing.T, s lifecycle.Store) int {
	t.Helper()
	var as []lifecycle.Alert
	view(t, s, func(tx lifecycle.Tx) error {
		var err error
		as, err = tx.Alerts("", "")
		return err
	})
	return len(as)
}

func testFindings(t *testing.T, s lifecycle.Store) {
	recs := []lifecycle.FindingRecord{
		{Account: "prod", Rule: "recharge-burst", Entity: "recharges", Severity: billing.SeverityCritical,
			At: T0, Summary: "3 recharges in 6 h"},
		{Account: "dev", Rule: "low-runway", Entity: "balance", Severity: billing.SeverityWarning,
			At: T0.Add(time.Minute), Silenced: true, Summary: "runway 2 days"},
		{Account: "prod", Rule: "phantom-grant", Entity: "cg_1", Fingerprint: billing.Fingerprint("phantom-grant", "prod", "cg_1"),
			Severity: billing.SeverityInfo, At: T0.Add(time.Hour), Summary: "grant without a charge"},
	}
	update(t, s, func(tx lifecycle.Tx) error {
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
	// One more, recorded last at the time of an earlier one: among equal
	// times, the order recorded.
	tie := lifecycle.FindingRecord{Account: "dev", Rule: "recharge-burst", Entity: "recharges", Severity: billing.SeverityCritical,
		At: T0.Add(time.Minute), Summary: "recorded after, at the same time"}
	checkFindings(t, s, []findingsCase{
		{"prod", time.Time{}, []lifecycle.FindingRecord{recs[0], recs[2]}},
		{"prod", T0.Add(time.Second), []lifecycle.FindingRecord{recs[2]}},
		{"dev", time.Time{}, []lifecycle.FindingRecord{recs[1]}},
		{"", time.Time{}, recs},
	})
	update(t, s, func(tx lifecycle.Tx) error { return tx.RecordFinding(tie) })
	tie.Fingerprint = billing.Fingerprint(tie.Rule, tie.Account, tie.Entity)
	checkFindings(t, s, []findingsCase{{"", T0.Add(time.Minute), []lifecycle.FindingRecord{recs[1], tie, recs[2]}}})
	for _, tt := range []struct {
		r    lifecycle.FindingRecord
		want string
	}{
		{lifecycle.FindingRecord{Account: "prod", Rule: "r", Severity: "fatal", At: T0}, `unknown severity "fatal"`},
		{lifecycle.FindingRecord{Account: "prod", Rule: "r", Fingerprint: "0123456789abcdef", Severity: billing.SeverityInfo, At: T0},
			"fingerprint 0123456789abcdef does not match"},
		{lifecycle.FindingRecord{Account: "prod", Rule: "r", Severity: billing.SeverityInfo}, "time is not set"},
	} {
		wantErr(t, s.Update(context.Background(), func(tx lifecycle.Tx) error { return tx.RecordFinding(tt.r) }), tt.want)
	}
}

// findingsCase is a query of the findings log and what it must return.
type findingsCase struct {
	account string
	since   time.Time
	want    []lifecycle.FindingRecord
}

func checkFindings(t *testing.T, s lifecycle.Store, cases []findingsCase) {
	t.Helper()
	for _, tt := range cases {
		view(t, s, func(tx lifecycle.Tx) error {
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
}

func testSilences(t *testing.T, s lifecycle.Store) {
	day := 24 * time.Hour
	add := []lifecycle.Silence{
		{Rule: "low-runway", Account: "dev", Start: T0, End: T0.Add(day), Comment: "dev is being drained", CreatedBy: "ana"},
		{Rule: "", Account: "staging", Start: T0, End: T0.Add(2 * day), Comment: "migration", CreatedBy: "bo"},
		{Rule: "phantom-grant", Account: "", Start: T0.Add(day), End: T0.Add(3 * day), Comment: "provider bug #12"},
		{Rule: "low-runway", Account: "dev", Start: T0, End: T0.Add(7 * day), Comment: "longer", CreatedBy: "ana"},
	}
	var ids []int64
	update(t, s, func(tx lifecycle.Tx) error {
		for _, si := range add {
			id, err := tx.AddSilence(si)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if !growing(ids) {
		t.Fatalf("ids: got %v, want them growing", ids)
	}
	for _, tt := range []struct {
		name          string
		rule, account string
		at            time.Time
		want          int // index in add; -1: not silenced
	}{
		{"exact match, the longest wins", "low-runway", "dev", T0.Add(time.Hour), 3},
		{"start is inclusive", "low-runway", "dev", T0, 3},
		{"before start", "low-runway", "dev", T0.Add(-time.Nanosecond), -1},
		{"other account", "low-runway", "prod", T0.Add(time.Hour), -1},
		{"any rule on staging", "recharge-burst", "staging", T0.Add(time.Hour), 1},
		{"end is exclusive", "recharge-burst", "staging", T0.Add(2 * day), -1},
		{"any account, not yet", "phantom-grant", "prod", T0.Add(time.Hour), -1},
		{"any account, started", "phantom-grant", "prod", T0.Add(day), 2},
		{"any account, other rule", "low-runway", "prod", T0.Add(day), -1},
	} {
		t.Run(tt.name, func(t *testing.T) { silencedBy(t, s, tt.rule, tt.account, tt.at, ids, tt.want) })
	}
	active := func(at time.Time) []int64 {
		var got []int64
		view(t, s, func(tx lifecycle.Tx) error {
			ss, err := tx.Silences(at)
			for _, si := range ss {
				got = append(got, si.ID)
			}
			return err
		})
		return got
	}
	if got, want := active(time.Time{}), []int64{ids[3], ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Errorf("all silences: got %v, want %v (newest first)", got, want)
	}
	if got, want := active(T0.Add(36*time.Hour)), []int64{ids[3], ids[2], ids[1]}; !slices.Equal(got, want) {
		t.Errorf("active after 36h: got %v, want %v", got, want)
	}

	// Expire the longer one early: the first now decides for low-runway on
	// dev, even before the expiry, since it now ends last.
	update(t, s, func(tx lifecycle.Tx) error { return tx.ExpireSilence(ids[3], T0.Add(2*time.Hour)) })
	silencedBy(t, s, "low-runway", "dev", T0.Add(3*time.Hour), ids, 0)
	silencedBy(t, s, "low-runway", "dev", T0.Add(time.Hour), ids, 0)
	view(t, s, func(tx lifecycle.Tx) error {
		ss, err := tx.Silences(time.Time{})
		if len(ss) == 4 {
			sameTime(t, "silence expired at", ss[0].ExpiredAt, T0.Add(2*time.Hour))
		}
		return err
	})
	if got, want := active(T0.Add(36*time.Hour)), []int64{ids[2], ids[1]}; !slices.Equal(got, want) {
		t.Errorf("active after 36h: got %v, want %v", got, want)
	}
	view(t, s, func(tx lifecycle.Tx) error {
		ss, err := tx.Silences(time.Time{})
		got, want := ss[len(ss)-1], add[0]
		want.ID = ids[0]
		if got.Rule != want.Rule || got.Account != want.Account || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) ||
			got.Comment != want.Comment || got.CreatedBy != want.CreatedBy || !got.ExpiredAt.IsZero() || got.ID != want.ID {
			t.Errorf("silence %d: got %+v, want %+v", want.ID, got, want)
		}
		return err
	})

	// Two silences lasting as long: the newer wins.
	var tie []int64
	update(t, s, func(tx lifecycle.Tx) error {
		for range 2 {
			id, err := tx.AddSilence(lifecycle.Silence{Rule: "drawdown-order", Start: T0, End: T0.Add(day), Comment: "tie"})
			if err != nil {
				return err
			}
			tie = append(tie, id)
		}
		return nil
	})
	silencedBy(t, s, "drawdown-order", "prod", T0, tie, 1)
}

// silencedBy fails unless ids[want] silences rule on account at at (none
// when want is -1).
func silencedBy(t *testing.T, s lifecycle.Store, rule, account string, at time.Time, ids []int64, want int) {
	t.Helper()
	view(t, s, func(tx lifecycle.Tx) error {
		got, ok, err := tx.Silenced(rule, account, at)
		switch {
		case want < 0 && ok:
			t.Errorf("%s on %s at %s: got silence %d, want none", rule, account, at, got.ID)
		case want >= 0 && (!ok || got.ID != ids[want]):
			t.Errorf("%s on %s at %s: got silence %d (%v), want %d", rule, account, at, got.ID, ok, ids[want])
		}
		return err
	})
}

func testSilenceErrors(t *testing.T, s lifecycle.Store) {
	var id int64
	update(t, s, func(tx lifecycle.Tx) error {
		var err error
		id, err = tx.AddSilence(lifecycle.Silence{Rule: "r", Start: T0, End: T0.Add(time.Hour), Comment: "c"})
		if err == nil {
			err = tx.ExpireSilence(id, T0.Add(time.Minute))
		}
		return err
	})
	expire := func(id int64, at time.Time) func(tx lifecycle.Tx) error {
		return func(tx lifecycle.Tx) error { return tx.ExpireSilence(id, at) }
	}
	addSilence := func(si lifecycle.Silence) func(tx lifecycle.Tx) error {
		return func(tx lifecycle.Tx) error { _, err := tx.AddSilence(si); return err }
	}
	for _, tt := range []struct {
		name string
		fn   func(tx lifecycle.Tx) error
		want string
	}{
		{"unknown id", expire(id+1000, T0), "not found"},
		{"already expired", expire(id, T0.Add(2*time.Minute)), "it was already expired at 2026-03-01T12:01:00Z"},
		{"end before start", addSilence(lifecycle.Silence{Rule: "r", Start: T0, End: T0, Comment: "c"}),
			"end 2026-03-01T12:00:00Z is not after start 2026-03-01T12:00:00Z"},
		{"no comment", addSilence(lifecycle.Silence{Rule: "r", Start: T0, End: T0.Add(time.Hour), Comment: "  "}),
			"a silence needs a comment saying why"},
		{"no end", addSilence(lifecycle.Silence{Rule: "r", Start: T0, Comment: "c"}), "end: time is not set"},
		{"an id", addSilence(lifecycle.Silence{ID: 7, Rule: "r", Start: T0, End: T0.Add(time.Hour), Comment: "c"}),
			"the silence already has id 7"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, s.Update(context.Background(), tt.fn), tt.want) })
	}
	err := s.Update(context.Background(), expire(id+1000, T0))
	if !errors.Is(err, lifecycle.ErrNotFound) {
		t.Errorf("unknown id: got %v, want it to wrap ErrNotFound", err)
	}
	update(t, s, func(tx lifecycle.Tx) error {
		id, err = tx.AddSilence(lifecycle.Silence{Rule: "r", Start: T0, End: T0.Add(time.Hour), Comment: "c"})
		return err
	})
	wantErr(t, s.Update(context.Background(), expire(id, T0.Add(time.Hour))), "it already ended at 2026-03-01T13:00:00Z")
}

func item(receiver string, created time.Time) lifecycle.OutboxItem {
	return lifecycle.OutboxItem{
		Receiver: receiver, Fingerprint: "3f1c2a9b8d7e6f50", Status: lifecycle.Firing,
		Payload: []byte(`{"rule":"recharge-burst","amount":"108.00","currency":"USD"}`), CreatedAt: created,
	}
}

// enqueue enqueues it in a transaction of its own and returns its id.
func enqueue(t *testing.T, s lifecycle.Store, it lifecycle.OutboxItem) int64 {
	t.Helper()
	var id int64
	update(t, s, func(tx lifecycle.Tx) error {
		var err error
		id, err = tx.Enqueue(it)
		return err
	})
	return id
}

func due(t *testing.T, s lifecycle.Store, now time.Time, limit int) []int64 {
	t.Helper()
	var ids []int64
	view(t, s, func(tx lifecycle.Tx) error {
		items, err := tx.Due(now, limit)
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		return err
	})
	return ids
}

// owner is the sender the suite claims items for.
const owner = "pid 1 on suite () sender 1"

// claim claims ids for owner at now, for an hour, and fails unless it
// claimed them all.
func claim(t *testing.T, s lifecycle.Store, now time.Time, ids ...int64) {
	t.Helper()
	if got := claimFor(t, s, owner, now, now.Add(time.Hour), ids...); !slices.Equal(got, ids) {
		t.Fatalf("claim %v: got %v, want them all", ids, got)
	}
}

// claimFor claims ids for who at now until until and returns those it got.
func claimFor(t *testing.T, s lifecycle.Store, who string, now, until time.Time, ids ...int64) []int64 {
	t.Helper()
	var got []int64
	update(t, s, func(tx lifecycle.Tx) error {
		var err error
		got, err = tx.Claim(who, ids, now, until)
		return err
	})
	return got
}

// claimOf returns the pending item id as Due lists it far in the future.
func claimOf(t *testing.T, s lifecycle.Store, id int64) lifecycle.OutboxItem {
	t.Helper()
	var it lifecycle.OutboxItem
	view(t, s, func(tx lifecycle.Tx) error {
		items, err := tx.Due(T0.AddDate(1, 0, 0), 0)
		for _, x := range items {
			if x.ID == id {
				it = x
			}
		}
		return err
	})
	return it
}

// claimedBy returns who claimed pending item id.
func claimedBy(t *testing.T, s lifecycle.Store, id int64) string {
	t.Helper()
	return claimOf(t, s, id).ClaimedBy
}

func testOutbox(t *testing.T, s lifecycle.Store) {
	later := item("slack", T0)
	later.NextAttemptAt = T0.Add(time.Hour)
	in := []lifecycle.OutboxItem{item("slack", T0), item("webhook", T0), later, item("stdout", T0.Add(time.Minute))}
	in[1].Status = lifecycle.Resolved
	update(t, s, func(tx lifecycle.Tx) error {
		for i, it := range in {
			id, err := tx.Enqueue(it)
			if err != nil {
				return err
			}
			in[i].ID = id
		}
		return nil
	})
	if ids := []int64{in[0].ID, in[1].ID, in[2].ID, in[3].ID}; !growing(ids) {
		t.Fatalf("ids: got %v, want them growing in the order enqueued", ids)
	}
	view(t, s, func(tx lifecycle.Tx) error {
		items, err := tx.Due(T0.Add(time.Minute), 0)
		if err != nil {
			return err
		}
		if len(items) != 3 {
			t.Fatalf("due: got %d items, want 3", len(items))
		}
		for i, want := range []lifecycle.OutboxItem{in[0], in[1], in[3]} {
			got := items[i]
			if got.ID != want.ID || got.Receiver != want.Receiver || got.Fingerprint != want.Fingerprint ||
				got.Status != want.Status || string(got.Payload) != string(want.Payload) ||
				!got.CreatedAt.Equal(want.CreatedAt) || !got.NextAttemptAt.Equal(want.CreatedAt) ||
				got.Attempts != 0 || got.LastError != "" || !got.LastAttemptAt.IsZero() {
				t.Errorf("due item %d: got %+v, want %+v", i, got, want)
			}
		}
		return nil
	})
	if got, want := due(t, s, T0, 1), []int64{in[0].ID}; !slices.Equal(got, want) {
		t.Errorf("due with limit 1: got %v, want %v", got, want)
	}
	if got, want := due(t, s, T0.Add(time.Hour), 0), []int64{in[0].ID, in[1].ID, in[2].ID, in[3].ID}; !slices.Equal(got, want) {
		t.Errorf("due in an hour: got %v, want %v (oldest first)", got, want)
	}

	// One is sent; one fails and is retried later; one fails for good.
	claim(t, s, T0.Add(time.Hour), in[0].ID, in[1].ID, in[2].ID)
	update(t, s, func(tx lifecycle.Tx) error {
		return errors.Join(
			tx.MarkSent(in[0].ID, owner, T0.Add(2*time.Second)),
			tx.MarkFailed(in[1].ID, owner, T0.Add(2*time.Second), "HTTP 429", T0.Add(10*time.Minute), false),
			tx.MarkFailed(in[2].ID, owner, T0.Add(2*time.Hour), "channel_not_found", time.Time{}, true),
		)
	})
	if got, want := due(t, s, T0.Add(5*time.Minute), 0), []int64{in[3].ID}; !slices.Equal(got, want) {
		t.Errorf("due after 5 minutes: got %v, want %v", got, want)
	}
	if got, want := due(t, s, T0.Add(24*time.Hour), 0), []int64{in[1].ID, in[3].ID}; !slices.Equal(got, want) {
		t.Errorf("due after a day: got %v, want %v", got, want)
	}
	view(t, s, func(tx lifecycle.Tx) error {
		items, err := tx.Due(T0.Add(24*time.Hour), 0)
		if err != nil {
			return err
		}
		if got := items[0]; got.Attempts != 1 || got.LastError != "HTTP 429" || !got.LastAttemptAt.Equal(T0.Add(2*time.Second)) ||
			!got.NextAttemptAt.Equal(T0.Add(10*time.Minute)) {
			t.Errorf("retried item: got %+v, want 1 attempt, HTTP 429, next at +10m", got)
		}
		dead, err := tx.Dead()
		if err != nil {
			return err
		}
		if len(dead) != 1 || dead[0].ID != in[2].ID || dead[0].LastError != "channel_not_found" || dead[0].Attempts != 1 {
			t.Errorf("dead: got %+v, want item %d with its error", dead, in[2].ID)
		}
		return nil
	})

	// Due goes by creation time first: an item enqueued later but created
	// earlier comes first.
	early := enqueue(t, s, item("slack", T0.Add(-time.Minute)))
	if got, want := due(t, s, T0.Add(24*time.Hour), 0), []int64{early, in[1].ID, in[3].ID}; !slices.Equal(got, want) {
		t.Errorf("due after an early item: got %v, want %v", got, want)
	}
}

func testOutboxErrors(t *testing.T, s lifecycle.Store) {
	var sent, dead, pending int64
	update(t, s, func(tx lifecycle.Tx) error {
		var errs [3]error
		sent, errs[0] = tx.Enqueue(item("slack", T0))
		dead, errs[1] = tx.Enqueue(item("slack", T0))
		pending, errs[2] = tx.Enqueue(item("slack", T0))
		_, err := tx.Claim(owner, []int64{sent, dead, pending}, T0, T0.Add(time.Hour))
		return errors.Join(errs[0], errs[1], errs[2], err, tx.MarkSent(sent, owner, T0.Add(2*time.Second)),
			tx.MarkFailed(dead, owner, T0.Add(2*time.Hour), "gone", time.Time{}, true))
	})
	enqueue := func(edit func(*lifecycle.OutboxItem)) func(tx lifecycle.Tx) error {
		return func(tx lifecycle.Tx) error {
			it := item("slack", T0)
			edit(&it)
			_, err := tx.Enqueue(it)
			return err
		}
	}
	for _, tt := range []struct {
		name string
		fn   func(tx lifecycle.Tx) error
		want string
	}{
		{"sent twice", func(tx lifecycle.Tx) error { return tx.MarkSent(sent, owner, T0) }, "it was already sent at 2026-03-01T12:00:02Z"},
		{"dead then sent", func(tx lifecycle.Tx) error { return tx.MarkSent(dead, owner, T0) }, "it was given up on at 2026-03-01T14:00:00Z"},
		{"unknown id", func(tx lifecycle.Tx) error { return tx.MarkFailed(pending+1000, owner, T0, "x", T0, false) }, "not found"},
		{"no next attempt", func(tx lifecycle.Tx) error { return tx.MarkFailed(pending, owner, T0, "x", time.Time{}, false) },
			"next attempt: time is not set"},
		{"no error text", func(tx lifecycle.Tx) error { return tx.MarkFailed(pending, owner, T0, "", T0, false) }, "empty error text"},
		{"bad payload", enqueue(func(it *lifecycle.OutboxItem) { it.Payload = []byte("not json") }), "the payload is not valid JSON"},
		{"bad status", enqueue(func(it *lifecycle.OutboxItem) { it.Status = "sent" }), `unknown status "sent": want firing or resolved`},
		{"no receiver", enqueue(func(it *lifecycle.OutboxItem) { it.Receiver = "" }), "empty receiver"},
		{"attempted", enqueue(func(it *lifecycle.OutboxItem) { it.Attempts = 1 }), "a new item has no attempts"},
		{"claimed", enqueue(func(it *lifecycle.OutboxItem) { it.ClaimedBy = owner }), "a new item is not claimed"},
		{"no creation time", enqueue(func(it *lifecycle.OutboxItem) { it.CreatedAt = time.Time{} }), "created at: time is not set"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, s.Update(context.Background(), tt.fn), tt.want) })
	}
	err := s.Update(context.Background(), func(tx lifecycle.Tx) error { return tx.MarkSent(pending+1000, owner, T0) })
	if !errors.Is(err, lifecycle.ErrNotFound) {
		t.Errorf("unknown id: got %v, want it to wrap ErrNotFound", err)
	}
	if got, want := due(t, s, T0.Add(time.Hour), 0), []int64{pending}; !slices.Equal(got, want) {
		t.Errorf("due after the failed calls: got %v, want %v (untouched)", got, want)
	}
}

func testMessagesSent(t *testing.T, s lifecycle.Store) {
	t0 := time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC)
	update(t, s, func(tx lifecycle.Tx) error {
		var ids []int64
		for i := 0; i < 4; i++ {
			id, err := tx.Enqueue(lifecycle.OutboxItem{Receiver: "slack", Fingerprint: "fp" + string(rune('0'+i)), Status: lifecycle.Firing,
				Payload: []byte(`{}`), CreatedAt: t0, NextAttemptAt: t0})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		_, err := tx.Claim(owner, ids, t0, t0.Add(time.Hour))
		// One message alone, then three items as one digest, an hour later.
		errs := []error{err, tx.MarkSent(ids[0], owner, t0)}
		for _, id := range ids[1:] {
			errs = append(errs, tx.MarkSent(id, owner, t0.Add(time.Hour)))
		}
		return errors.Join(errs...)
	})
	view(t, s, func(tx lifecycle.Tx) error {
		for _, tc := range []struct {
			since time.Time
			want  int
		}{{t0, 2}, {t0.Add(time.Minute), 1}, {t0.Add(2 * time.Hour), 0}} {
			if got, err := tx.MessagesSentSince("slack", tc.since); err != nil || got != tc.want {
				t.Errorf("since %s: got %d (%v), want %d", tc.since, got, err, tc.want)
			}
		}
		if got, _ := tx.MessagesSentSince("email", t0); got != 0 {
			t.Errorf("another receiver: got %d, want 0", got)
		}
		return nil
	})
}

// writes is one of every write, each of which succeeds on an empty store.
func writes(tx lifecycle.Tx) []error {
	_, silErr := tx.AddSilence(lifecycle.Silence{Rule: "r", Start: T0, End: T0.Add(time.Hour), Comment: "c"})
	_, itemErr := tx.Enqueue(item("slack", T0))
	a := firingAlert()
	return []error{
		tx.PutAlert(a),
		tx.SeeAlert(billing.Fingerprint(a.Rule, a.Account, a.Entity), T0.Add(time.Hour), 0),
		tx.RecordFinding(lifecycle.FindingRecord{Account: "prod", Rule: "r", Severity: billing.SeverityInfo, At: T0}),
		silErr,
		itemErr,
	}
}

// empty fails unless s holds nothing.
func empty(t *testing.T, s lifecycle.Store) {
	t.Helper()
	view(t, s, func(tx lifecycle.Tx) error {
		as, err1 := tx.Alerts("", "")
		fs, err2 := tx.Findings("", time.Time{})
		ss, err3 := tx.Silences(time.Time{})
		items, err4 := tx.Due(T0.AddDate(1, 0, 0), 0)
		if len(as)+len(fs)+len(ss)+len(items) != 0 {
			t.Errorf("got %d alerts, %d findings, %d silences and %d outbox items, want none", len(as), len(fs), len(ss), len(items))
		}
		return errors.Join(err1, err2, err3, err4)
	})
}

func testAtomic(t *testing.T, s lifecycle.Store) {
	ctx := context.Background()
	failed := errors.New("the decision failed half-way")
	err := s.Update(ctx, func(tx lifecycle.Tx) error {
		if err := errors.Join(writes(tx)...); err != nil {
			return err
		}
		return failed
	})
	if err != failed {
		t.Errorf("update: got %v, want fn's error as is", err)
	}
	empty(t, s)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("update: got panic %v, want fn's panic passed on", r)
			}
		}()
		s.Update(ctx, func(tx lifecycle.Tx) error {
			writes(tx)
			panic("boom")
		})
	}()
	empty(t, s)

	// A failed mark leaves the item as it was.
	id := enqueue(t, s, item("slack", T0))
	s.Update(ctx, func(tx lifecycle.Tx) error {
		if _, err := tx.Claim(owner, []int64{id}, T0, T0.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.MarkSent(id, owner, T0); err != nil {
			return err
		}
		return failed
	})
	if got := due(t, s, T0, 0); !slices.Equal(got, []int64{id}) {
		t.Errorf("due after a rolled-back MarkSent: got %v, want [%d]", got, id)
	}
	if got := claimedBy(t, s, id); got != "" {
		t.Errorf("claim after a rolled-back Claim: got %q, want none", got)
	}

	// A finished Update is seen by the next View.
	update(t, s, func(tx lifecycle.Tx) error { return tx.PutAlert(firingAlert()) })
	if n := countAlerts(t, s); n != 1 {
		t.Errorf("after a committed update: got %d alerts, want 1", n)
	}
}

func testReadOnly(t *testing.T, s lifecycle.Store) {
	id := enqueue(t, s, item("slack", T0))
	view(t, s, func(tx lifecycle.Tx) error {
		_, claimErr := tx.Claim(owner, []int64{id}, T0, T0.Add(time.Hour))
		_, releaseErr := tx.Release(owner)
		errs := append(writes(tx), tx.ExpireSilence(1, T0), tx.MarkSent(id, owner, T0), tx.MarkFailed(id, owner, T0, "x", T0, false),
			claimErr, releaseErr)
		for i, err := range errs {
			if !errors.Is(err, lifecycle.ErrReadOnly) {
				t.Errorf("write %d in View: got %v, want ErrReadOnly", i, err)
			}
		}
		return nil
	})
	if got := due(t, s, T0, 0); !slices.Equal(got, []int64{id}) {
		t.Errorf("due after writes in View: got %v, want [%d]", got, id)
	}
	if got := claimedBy(t, s, id); got != "" {
		t.Errorf("claim after a Claim in View: got %q, want none", got)
	}
	if n := countAlerts(t, s); n != 0 {
		t.Errorf("got %d alerts written in View, want none", n)
	}
}

// testClaims has two senders, a and b, share an outbox.
func testClaims(t *testing.T, s lifecycle.Store) {
	const a, b = "pid 1 on host-a () sender a", "pid 2 on host-b () sender b"
	later := item("slack", T0)
	later.NextAttemptAt = T0.Add(time.Hour)
	one, two, three := enqueue(t, s, item("slack", T0)), enqueue(t, s, item("webhook", T0)), enqueue(t, s, later)

	// a claims what is due, in the order asked; the later item is not due.
	if got, want := claimFor(t, s, a, T0, T0.Add(10*time.Minute).In(elsewhere), two, one, three), []int64{two, one}; !slices.Equal(got, want) {
		t.Fatalf("a claims: got %v, want %v", got, want)
	}
	for _, id := range []int64{one, two} {
		it := claimOf(t, s, id)
		if it.ClaimedBy != a {
			t.Errorf("item %d: got claimed by %q, want %q", id, it.ClaimedBy, a)
		}
		sameTime(t, "claimed until", it.ClaimedUntil, T0.Add(10*time.Minute))
	}
	// Due lists claimed items too: Claim is what leaves them alone.
	if got, want := due(t, s, T0, 0), []int64{one, two}; !slices.Equal(got, want) {
		t.Errorf("due while claimed: got %v, want %v", got, want)
	}
	// b gets none of them while a's lease lasts, to its last instant.
	if got := claimFor(t, s, b, T0.Add(10*time.Minute-time.Nanosecond), T0.Add(time.Hour), one, two); len(got) != 0 {
		t.Errorf("b claims during a's lease: got %v, want none", got)
	}
	// a renews one; b takes two over once a's lease has run out.
	if got := claimFor(t, s, a, T0.Add(5*time.Minute), T0.Add(20*time.Minute), one); !slices.Equal(got, []int64{one}) {
		t.Errorf("a renews: got %v, want [%d]", got, one)
	}
	if got := claimFor(t, s, b, T0.Add(10*time.Minute), T0.Add(30*time.Minute), one, two); !slices.Equal(got, []int64{two}) {
		t.Errorf("b claims after a's first lease: got %v, want [%d] (one was renewed)", got, two)
	}

	// Only the holder marks an item; a mark ends the claim.
	mark := func(fn func(tx lifecycle.Tx) error) error { return s.Update(context.Background(), fn) }
	for _, tt := range []struct {
		name string
		err  error
		is   error
		want string
	}{
		{"a marks what b took over", mark(func(tx lifecycle.Tx) error { return tx.MarkSent(two, a, T0.Add(11*time.Minute)) }),
			lifecycle.ErrNotClaimed, "pid 2 on host-b () sender b claimed it until 2026-03-01T12:30:00Z"},
		{"b marks what a holds", mark(func(tx lifecycle.Tx) error {
			return tx.MarkFailed(one, b, T0.Add(11*time.Minute), "x", T0.Add(time.Hour), false)
		}), lifecycle.ErrNotClaimed, "pid 1 on host-a () sender a claimed it until 2026-03-01T12:20:00Z"},
		{"nobody claimed it", mark(func(tx lifecycle.Tx) error { return tx.MarkSent(three, a, T0.Add(time.Hour)) }),
			lifecycle.ErrNotClaimed, "nobody claimed it"},
		{"b marks two sent", mark(func(tx lifecycle.Tx) error { return tx.MarkSent(two, b, T0.Add(11*time.Minute)) }), nil, ""},
		{"a marks it sent too", mark(func(tx lifecycle.Tx) error { return tx.MarkSent(two, a, T0.Add(12*time.Minute)) }),
			lifecycle.ErrAlreadySent, "it was already sent at 2026-03-01T12:11:00Z"},
		{"a fails one", mark(func(tx lifecycle.Tx) error {
			return tx.MarkFailed(one, a, T0.Add(12*time.Minute), "HTTP 503", T0.Add(15*time.Minute), false)
		}), nil, ""},
	} {
		switch {
		case tt.is == nil && tt.err != nil:
			t.Errorf("%s: got %v, want no error", tt.name, tt.err)
		case tt.is != nil && !errors.Is(tt.err, tt.is):
			t.Errorf("%s: got %v, want an error wrapping %q", tt.name, tt.err, tt.is)
		case tt.is != nil:
			wantErr(t, tt.err, tt.want)
		}
	}
	if it := claimOf(t, s, one); it.ClaimedBy != "" || !it.ClaimedUntil.IsZero() || it.Attempts != 1 || !it.NextAttemptAt.Equal(T0.Add(15*time.Minute)) {
		t.Errorf("after a failed attempt: got %+v, want it unclaimed, due again at +15m", it)
	}
	// Once due again, anyone may claim it; a sent item nobody can.
	if got := claimFor(t, s, b, T0.Add(15*time.Minute), T0.Add(time.Hour), two, one); !slices.Equal(got, []int64{one}) {
		t.Errorf("claims after the marks: got %v, want [%d]", got, one)
	}

	// Release ends the claims of a sender that is gone, at once.
	var n int
	update(t, s, func(tx lifecycle.Tx) error {
		var err error
		n, err = tx.Release(b)
		return err
	})
	if n != 1 || claimedBy(t, s, one) != "" {
		t.Errorf("release b: got %d released, one claimed by %q, want 1 and nobody", n, claimedBy(t, s, one))
	}
	if got := claimFor(t, s, a, T0.Add(16*time.Minute), T0.Add(time.Hour), one); !slices.Equal(got, []int64{one}) {
		t.Errorf("a claims after the release: got %v, want [%d]", got, one)
	}

	// Errors claim nothing.
	ctx := context.Background()
	claimErr := func(who string, now, until time.Time, ids ...int64) error {
		return s.Update(ctx, func(tx lifecycle.Tx) error { _, err := tx.Claim(who, ids, now, until); return err })
	}
	err := claimErr(b, T0.Add(time.Hour), T0.Add(2*time.Hour), three, three+1000)
	if !errors.Is(err, lifecycle.ErrNotFound) {
		t.Errorf("unknown id: got %v, want it to wrap ErrNotFound", err)
	}
	wantErr(t, claimErr("", T0.Add(time.Hour), T0.Add(2*time.Hour), three), "empty owner")
	wantErr(t, claimErr(b, T0.Add(time.Hour), T0.Add(time.Hour), three),
		"the lease ends at 2026-03-01T13:00:00Z, not after 2026-03-01T13:00:00Z")
	if got := claimedBy(t, s, three); got != "" {
		t.Errorf("after the failed claims: got three claimed by %q, want nobody", got)
	}
}
