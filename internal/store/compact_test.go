package store

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/history"
)

// appendFull stores o the way guardd stored every observation before
// deltas: its full text in a row of its own, at any schema version.
func appendFull(t *testing.T, s *Store, a billing.Account, o billing.Observation) {
	t.Helper()
	data, err := history.EncodeObservation(o)
	if err != nil {
		t.Fatal(err)
	}
	at, err := nanos(o.At)
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error {
		_, err := tx.exec("INSERT INTO observations (account, at, data) VALUES (?, ?, ?)", a.Name, at, string(data))
		return err
	})
}

// varied returns the polls with some parts unavailable now and then, and
// now and then a part read late or read empty, as real polls go.
func varied(obs []billing.Observation) []billing.Observation {
	out := make([]billing.Observation, len(obs))
	for i, o := range obs {
		o.Parts = maps.Clone(o.Parts)
		switch {
		case i%31 == 11:
			for _, p := range []billing.Part{billing.PartBalance, billing.PartGrants, billing.PartCosts} {
				if st, ok := o.Parts[p]; ok {
					st.Unavailable = fmt.Sprintf("%s: HTTP 503", st.Source)
					o.Parts[p] = st
				}
			}
			o.Balance, o.Grants, o.Costs, o.Derived = billing.Balance{}, nil, nil, nil
		case i%41 == 5:
			if st, ok := o.Parts[billing.PartCosts]; ok {
				st.AsOf = o.At.Add(-5 * time.Minute)
				o.Parts[billing.PartCosts] = st
				o.Costs = nil
			}
			if st, ok := o.Parts[billing.PartCharges]; ok {
				st.Source = "receipts:other-inbox"
				o.Parts[billing.PartCharges] = st
			}
		}
		out[i] = o
	}
	return out
}

// readBack fails unless account's observations since since are want: equal
// to what the store returned when it kept every observation whole (the
// decoded full text, Parts, Derived, grants, charges and costs included),
// and holding the same values as appended.
func readBack(t *testing.T, s *Store, a billing.Account, since time.Time, want []billing.Observation) {
	t.Helper()
	view(t, s, func(tx *Tx) error {
		got, err := tx.Observations(a, since)
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			t.Fatalf("since %s: got %d observations, want %d", since, len(got), len(want))
		}
		for i := range got {
			data := encode(t, want[i])
			whole, err := history.DecodeObservation(data, a)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[i], whole) {
				t.Fatalf("since %s: observation %d at %s:\ngot  %+v\nwant %+v", since, i, want[i].At, got[i], whole)
			}
			if g := encode(t, got[i]); !bytes.Equal(g, data) {
				t.Fatalf("since %s: observation %d:\ngot  %s\nwant %s", since, i, g, data)
			}
		}
		return nil
	})
}

// baseOf returns the base of account's observation at at, or 0.
func baseOf(t *testing.T, s *Store, account string, at time.Time) int64 {
	t.Helper()
	var id int64
	view(t, s, func(tx *Tx) error {
		return tx.queryRow([]any{&id}, "SELECT coalesce(base, 0) FROM observations WHERE account = ? AND at = ?", account, at.UnixNano())
	})
	return id
}

// count returns the result of a count(*) query.
func count(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	view(t, s, func(tx *Tx) error { return tx.queryRow([]any{&n}, query, args...) })
	return n
}

// noOrphans fails when an observation refers to a base that is not there.
func noOrphans(t *testing.T, s *Store) {
	t.Helper()
	if n := count(t, s, "SELECT count(*) FROM pragma_foreign_key_check('observations')"); n != 0 {
		t.Errorf("foreign key check: got %d observations whose base is missing, want none", n)
	}
}

// TestCompactReadsBack: for every provider shape, a sequence of polls
// appended one transaction each reads back as appended, from any time on,
// after the store is opened again and after Prune has cut through the
// middle of a base's observations; the base stays while one of them is
// kept and goes with the last.
func TestCompactReadsBack(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			obs := varied(sh.polls(t, 3*pollsPerDay+1))
			next := obs[len(obs)-1]
			obs = obs[:len(obs)-1]
			s := openTest(t, Options{})
			record(t, s, sh.account, obs)
			readBack(t, s, sh.account, time.Time{}, obs)
			for _, i := range []int{1, 50, 97, 200, len(obs) - 1} {
				readBack(t, s, sh.account, obs[i].At, obs[i:])
			}
			readBack(t, s, sh.account, obs[len(obs)-1].At.Add(time.Nanosecond), nil)

			// Cut in the middle of the longest run of observations on
			// one base, or in the middle of the day without bases.
			cut, run, best := len(obs)/3, 0, 0
			for i := 1; i < len(obs); i++ {
				if b := baseOf(t, s, sh.account.Name, obs[i].At); b != 0 && b == baseOf(t, s, sh.account.Name, obs[i-1].At) {
					if run++; run > best {
						best, cut = run, i-run/2
					}
				} else {
					run = 0
				}
			}
			cutBase := baseOf(t, s, sh.account.Name, obs[cut].At)
			if compacts := sh.name != "deepseek" && sh.name != "receipts"; compacts && (cutBase == 0 || cutBase != baseOf(t, s, sh.account.Name, obs[cut-1].At)) {
				t.Fatalf("poll %d: got base %d, want one shared with the poll before: %s observations compact", cut, cutBase, sh.name)
			}
			path := s.Path()
			s.Close()
			now := obs[len(obs)-1].At
			retention := now.Sub(obs[cut].At)
			s = openAt(t, path, Options{Retention: retention})
			readBack(t, s, sh.account, time.Time{}, obs)

			st, err := s.Prune(t.Context(), now)
			if err != nil {
				t.Fatal(err)
			}
			if st.Observations != int64(cut) {
				t.Errorf("pruned: got %d observations, want %d", st.Observations, cut)
			}
			noOrphans(t, s)
			readBack(t, s, sh.account, time.Time{}, obs[cut:])
			if cutBase != 0 {
				if n := count(t, s, "SELECT count(*) FROM observation_bases WHERE id = ?", cutBase); n != 1 {
					t.Errorf("base %d of the observations kept: got %d, want it kept", cutBase, n)
				}
			}
			// It grows on after the prune.
			record(t, s, sh.account, []billing.Observation{next})
			readBack(t, s, sh.account, time.Time{}, append(obs[cut:], next))

			// Once every observation is pruned, no base is left.
			if _, err := s.Prune(t.Context(), next.At.Add(retention+time.Nanosecond)); err != nil {
				t.Fatal(err)
			}
			readBack(t, s, sh.account, time.Time{}, nil)
			if n := count(t, s, "SELECT count(*) FROM observation_bases"); n != 0 {
				t.Errorf("bases left after every observation was pruned: got %d, want 0", n)
			}
		})
	}
}

// TestUnchangedPartsStoredOnce: the credit grants and cost buckets that do
// not change from one poll to the next are not stored again at each poll.
func TestUnchangedPartsStoredOnce(t *testing.T) {
	sh := shapes[0]
	obs := sh.polls(t, 2*pollsPerDay)
	s := openTest(t, Options{})
	record(t, s, sh.account, obs)
	readBack(t, s, sh.account, time.Time{}, obs)

	oldest := obs[0].Grants[0] // expired long ago: never changes
	yesterday := `"start":"` + obs[0].At.Add(-24*time.Hour).Format(time.RFC3339) + `"`
	for _, c := range []struct{ what, text string }{
		{"an unchanged credit grant", `"id":"` + oldest.ID + `"`},
		{"yesterday's cost bucket", yesterday},
	} {
		n := count(t, s, "SELECT count(*) FROM observations WHERE instr(data, ?) > 0", c.text)
		if count(t, s, "SELECT count(*) FROM sqlite_schema WHERE name = 'observation_bases'") > 0 {
			n += count(t, s, "SELECT count(*) FROM observation_bases WHERE instr(data, ?) > 0", c.text)
		}
		if n > 4 {
			t.Errorf("%s is stored %d times over %d polls, want it stored with each base only", c.what, n, len(obs))
		}
	}
}
