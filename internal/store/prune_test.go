package store

import (
	"errors"
	"github.com/guardd/guardd/internal/lifecycle"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
)

func TestPrune(t *testing.T) { eachBackend(t, testPrune) }

func testPrune(t *testing.T, b backend) {
	const day = 24 * time.Hour
	s := b.open(t, Options{Retention: 30 * day})
	now := t0.Add(60 * day)
	cutoff := now.Add(-30 * day)
	ages := []time.Duration{60 * day, 50 * day, 30*day + time.Nanosecond, 30 * day, 15 * day} // the first 3 go
	update(t, s, func(tx *Tx) error {
		var errs []error
		for _, name := range []string{"prod", "dev"} {
			for _, age := range ages {
				at := now.Add(-age)
				errs = append(errs,
					tx.AppendObservation(account(name), observation(name, at, 1)),
					tx.RecordPoll(Poll{Account: name, At: at, OK: true}),
					tx.RecordFinding(lifecycle.FindingRecord{Account: name, Rule: "r", Severity: billing.SeverityInfo, At: at}))
			}
		}
		_, err := tx.FirstSeen("prod", KindGrant, "cg_00", now.Add(-60*day))
		errs = append(errs, err)
		alert := func(entity string, state lifecycle.State, fired, resolved time.Time) error {
			return tx.PutAlert(lifecycle.Alert{Account: "prod", Rule: "r", Entity: entity, Severity: billing.SeverityWarning,
				State: state, FiredAt: fired, ResolvedAt: resolved})
		}
		errs = append(errs,
			alert("old resolved", lifecycle.Resolved, now.Add(-50*day), now.Add(-40*day)),
			alert("recent resolved", lifecycle.Resolved, now.Add(-50*day), now.Add(-20*day)),
			alert("old firing", lifecycle.Firing, now.Add(-50*day), time.Time{}))
		silence := func(start, end, expired time.Time) {
			id, err := tx.AddSilence(lifecycle.Silence{Start: start, End: end, Comment: "c"})
			errs = append(errs, err)
			if !expired.IsZero() {
				errs = append(errs, tx.ExpireSilence(id, expired))
			}
		}
		silence(now.Add(-50*day), now.Add(-40*day), time.Time{})     // ended long ago: goes
		silence(now.Add(-50*day), now.Add(90*day), now.Add(-40*day)) // expired long ago: goes
		silence(now.Add(-50*day), now.Add(-20*day), time.Time{})     // ended recently: kept
		silence(now.Add(-50*day), now.Add(90*day), time.Time{})      // active: kept
		for _, o := range []struct {
			created time.Time
			mark    func(id int64) error
		}{
			{now.Add(-45 * day), func(id int64) error { return tx.MarkSent(id, testOwner, now.Add(-40*day)) }},                           // goes: sent > 30 days ago
			{now.Add(-25 * day), func(id int64) error { return tx.MarkSent(id, testOwner, now.Add(-20*day)) }},                           // kept
			{now.Add(-90 * day), func(id int64) error { return nil }},                                                                    // pending: kept
			{now.Add(-45 * day), func(id int64) error { return tx.MarkFailed(id, testOwner, now.Add(-40*day), "x", time.Time{}, true) }}, // goes
			{now.Add(-45 * day), func(id int64) error { return tx.MarkFailed(id, testOwner, now.Add(-20*day), "x", time.Time{}, true) }}, // kept
		} {
			id, err := tx.Enqueue(item("slack", o.created))
			errs = append(errs, err, claimed(tx, id, now), o.mark(id))
		}
		return errors.Join(errs...)
	})

	got, err := s.Prune(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}
	want := PruneStats{Observations: 6, Polls: 6, Findings: 6, Alerts: 1, Silences: 2, OutboxSent: 1, OutboxDead: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}

	view(t, s, func(tx *Tx) error {
		for _, name := range []string{"prod", "dev"} {
			obs, err := tx.Observations(account(name), time.Time{})
			if err != nil {
				return err
			}
			if len(obs) != 2 || !obs[0].At.Equal(cutoff) {
				t.Errorf("%s: got %d observations, the first at %v, want 2, the first at %s", name, len(obs), firstAt(obs), cutoff)
			}
			polls, err := tx.RecentPolls(name, 10)
			if err != nil {
				return err
			}
			if len(polls) != 2 {
				t.Errorf("%s: got %d polls, want 2", name, len(polls))
			}
			fs, err := tx.Findings(name, time.Time{})
			if err != nil {
				return err
			}
			if len(fs) != 2 {
				t.Errorf("%s: got %d findings, want 2", name, len(fs))
			}
		}
		as, err := tx.Alerts("", "")
		if err != nil {
			return err
		}
		var entities []string
		for _, a := range as {
			entities = append(entities, a.Entity)
		}
		if len(as) != 2 {
			t.Errorf("alerts: got %q, want recent resolved and old firing", entities)
		}
		ss, err := tx.Silences(time.Time{})
		if err != nil {
			return err
		}
		if len(ss) != 2 || ss[0].ID != 4 || ss[1].ID != 3 {
			t.Errorf("silences: got %+v, want 4 and 3", ss)
		}
		if n, _ := tx.PendingCount(); n != 1 {
			t.Errorf("pending notifications: got %d, want 1", n)
		}
		dead, err := tx.Dead()
		if len(dead) != 1 || dead[0].ID != 5 {
			t.Errorf("dead notifications: got %+v, want item 5", dead)
		}
		return err
	})
	update(t, s, func(tx *Tx) error {
		at, err := tx.FirstSeen("prod", KindGrant, "cg_00", now)
		if !at.Equal(now.Add(-60 * day)) {
			t.Errorf("first seen: got %s, want %s (never pruned)", at, now.Add(-60*day))
		}
		return err
	})

	// A second prune finds nothing more.
	if got, err := s.Prune(t.Context(), now); err != nil || got != (PruneStats{}) {
		t.Errorf("second prune: got %+v, %v, want nothing deleted", got, err)
	}
}

func firstAt(obs []billing.Observation) any {
	if len(obs) == 0 {
		return "none"
	}
	return obs[0].At
}
