package store

import (
	"bytes"
	"maps"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/history"
)

func TestObservationsRoundTrip(t *testing.T) { eachBackend(t, testObservationsRoundTrip) }

func testObservationsRoundTrip(t *testing.T, b backend) {
	s := b.open(t, Options{})
	prod, dev := account("prod"), account("dev")
	var want []billing.Observation
	update(t, s, func(tx *Tx) error {
		for h := range 5 {
			o := observation("prod", t0.Add(time.Duration(h)*time.Hour), h)
			if err := tx.AppendObservation(prod, o); err != nil {
				return err
			}
			want = append(want, o)
			// dev polls at the same times: times are unique per account only.
			if err := tx.AppendObservation(dev, observation("dev", o.At, 1)); err != nil {
				return err
			}
		}
		return nil
	})
	// A partial observation: one part unavailable.
	partial := observation("prod", t0.Add(5*time.Hour), 2)
	partial.Parts[billing.PartCharges] = billing.PartStatus{Source: "openai:/v1/invoices", AsOf: partial.At, Unavailable: "HTTP 503"}
	partial.Charges = nil
	update(t, s, func(tx *Tx) error { return tx.AppendObservation(prod, partial) })
	want = append(want, partial)

	tests := []struct {
		name  string
		since time.Time
		want  []billing.Observation
	}{
		{"all", time.Time{}, want},
		{"since the third, inclusive", t0.Add(2 * time.Hour), want[2:]},
		{"since after the last", t0.Add(6 * time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx *Tx) error {
				got, err := tx.Observations(prod, tt.since)
				if err != nil {
					return err
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %d observations, want %d", len(got), len(tt.want))
				}
				for i := range got {
					if g, w := encode(t, got[i]), encode(t, tt.want[i]); !bytes.Equal(g, w) {
						t.Errorf("observation %d: got %s, want %s", i, g, w)
					}
					if got[i].Account != "prod" {
						t.Errorf("observation %d: got account %q, want prod", i, got[i].Account)
					}
				}
				return nil
			})
		})
	}

	view(t, s, func(tx *Tx) error {
		for _, c := range []struct {
			account string
			n       int
			last    time.Time
		}{{"prod", 6, t0.Add(5 * time.Hour)}, {"dev", 5, t0.Add(4 * time.Hour)}, {"nobody", 0, time.Time{}}} {
			n, err := tx.ObservationCount(c.account)
			if err != nil {
				return err
			}
			if n != c.n {
				t.Errorf("%s: got %d observations, want %d", c.account, n, c.n)
			}
			last, ok, err := tx.LastObservationAt(c.account)
			if err != nil {
				return err
			}
			if ok != (c.n > 0) || !last.Equal(c.last) {
				t.Errorf("%s: got last observation at %s (%v), want %s (%v)", c.account, last, ok, c.last, c.n > 0)
			}
		}
		got, err := tx.Observations(dev, time.Time{})
		if err != nil {
			return err
		}
		for _, o := range got {
			if len(o.Grants) != 1 {
				t.Errorf("dev at %s: got %d grants, want dev's 1", o.At, len(o.Grants))
			}
		}
		return nil
	})
}

func encode(t testing.TB, o billing.Observation) []byte {
	t.Helper()
	data, err := history.EncodeObservation(o)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestAppendObservationErrors(t *testing.T) { eachBackend(t, testAppendObservationErrors) }

func testAppendObservationErrors(t *testing.T, b backend) {
	s := b.open(t, Options{})
	prod := account("prod")
	update(t, s, func(tx *Tx) error { return tx.AppendObservation(prod, observation("prod", t0, 2)) })

	eur := observation("prod", t0.Add(time.Hour), 1)
	eur.Grants[0].Used = billing.NewMoney(eur.Grants[0].Used.Amount(), "EUR")
	negative := observation("prod", t0.Add(time.Hour), 1)
	negative.Grants[0].Amount = usd(-5)
	tests := []struct {
		name    string
		account billing.Account
		o       billing.Observation
		want    string
	}{
		{"same time", prod, observation("prod", t0, 2),
			`append observation of account "prod": at 2026-03-01T12:00:00Z: not after the last stored observation at 2026-03-01T12:00:00Z`},
		{"earlier time", prod, observation("prod", t0.Add(-time.Minute), 2),
			`append observation of account "prod": at 2026-03-01T11:59:00Z: not after the last stored observation at 2026-03-01T12:00:00Z`},
		{"another account's observation", prod, observation("dev", t0.Add(time.Hour), 2),
			`append observation of account "prod": the observation is of account "dev"`},
		{"no time", prod, observation("prod", time.Time{}, 0),
			`append observation of account "prod": time is not set`},
		{"another currency", prod, eur,
			`append observation of account "prod": at 2026-03-01T13:00:00Z: grant cg_00 used 0 is in EUR, not the account currency USD`},
		{"would not read back", prod, negative,
			`append observation of account "prod": at 2026-03-01T13:00:00Z: it would not read back: grants[0].amount: must not be negative (got -0.05)`},
		{"account without currency", billing.Account{Name: "prod"}, observation("prod", t0.Add(time.Hour), 0),
			`append observation of account "prod": the account has no currency`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, s.Update(t.Context(), func(tx *Tx) error { return tx.AppendObservation(tt.account, tt.o) }), tt.want)
		})
	}
	view(t, s, func(tx *Tx) error {
		n, err := tx.ObservationCount("prod")
		if n != 1 {
			t.Errorf("got %d observations, want 1: a failed append writes nothing", n)
		}
		return err
	})
}

func TestFirstSeen(t *testing.T) { eachBackend(t, testFirstSeen) }

func testFirstSeen(t *testing.T, b backend) {
	place := b.place(t)
	s := b.at(t, place, Options{})
	steps := []struct {
		account, kind, id string
		at, want          time.Time
	}{
		{"prod", KindGrant, "cg_1", t0, t0},
		{"prod", KindGrant, "cg_1", t0.Add(time.Hour), t0},                       // later call: stored time
		{"prod", KindGrant, "cg_1", t0.Add(-time.Hour), t0},                      // even an earlier one
		{"prod", KindCharge, "cg_1", t0.Add(time.Hour), t0.Add(time.Hour)},       // kinds apart
		{"dev", KindGrant, "cg_1", t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)}, // accounts apart
	}
	for i, st := range steps {
		update(t, s, func(tx *Tx) error {
			got, err := tx.FirstSeen(st.account, st.kind, st.id, st.at)
			if !got.Equal(st.want) {
				t.Errorf("step %d: got %s, want %s", i, got, st.want)
			}
			return err
		})
	}
	// It survives a restart.
	s.Close()
	s = b.at(t, place, Options{})
	update(t, s, func(tx *Tx) error {
		got, err := tx.FirstSeen("prod", KindGrant, "cg_1", t0.Add(24*time.Hour))
		if !got.Equal(t0) {
			t.Errorf("after reopening: got %s, want %s", got, t0)
		}
		return err
	})
	for _, tt := range []struct{ kind, id, want string }{
		{"invoice", "x", `record first sight of invoice "x" of account "prod": unknown kind "invoice": want grant or charge`},
		{KindGrant, "", `record first sight of grant "" of account "prod": empty id`},
	} {
		wantErr(t, s.Update(t.Context(), func(tx *Tx) error {
			_, err := tx.FirstSeen("prod", tt.kind, tt.id, t0)
			return err
		}), tt.want)
	}
}

// TestRecordFirstSeen: the first sights recorded in an account's
// transaction (pipelined on PostgreSQL) are FirstSeen's: the first wins.
func TestRecordFirstSeen(t *testing.T) { eachBackend(t, testRecordFirstSeen) }

func testRecordFirstSeen(t *testing.T, b backend) {
	s := b.open(t, Options{})
	ctx := t.Context()
	record := func(kind string, ids []string, at time.Time) error {
		return s.UpdateAccount(ctx, "prod", func(tx *Tx) error { return tx.RecordFirstSeen("prod", kind, ids, at) })
	}
	if err := record(KindGrant, []string{"cg_1", "cg_2"}, t0); err != nil {
		t.Fatal(err)
	}
	if err := record(KindGrant, []string{"cg_2", "cg_3", "cg_3"}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := record(KindCharge, []string{"cg_1"}, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error {
		for _, st := range []struct {
			kind, id string
			want     time.Time
		}{
			{KindGrant, "cg_1", t0}, {KindGrant, "cg_2", t0}, {KindGrant, "cg_3", t0.Add(time.Hour)},
			{KindCharge, "cg_1", t0.Add(2 * time.Hour)},
		} {
			got, err := tx.FirstSeen("prod", st.kind, st.id, t0.Add(24*time.Hour))
			if err != nil {
				return err
			}
			if !got.Equal(st.want) {
				t.Errorf("%s %s: first seen %s, want %s", st.kind, st.id, got, st.want)
			}
		}
		return nil
	})
	for _, tt := range []struct {
		kind string
		ids  []string
		want string
	}{
		{"invoice", []string{"x"}, `record first sight of invoice "x" of account "prod": unknown kind "invoice": want grant or charge`},
		{KindGrant, []string{"cg_4", ""}, `record first sight of grant "" of account "prod": empty id`},
	} {
		wantErr(t, record(tt.kind, tt.ids, t0), tt.want)
	}
	// Nothing of a transaction that failed is kept.
	update(t, s, func(tx *Tx) error {
		if got, err := tx.FirstSeen("prod", KindGrant, "cg_4", t0.Add(48*time.Hour)); err != nil || !got.Equal(t0.Add(48*time.Hour)) {
			t.Errorf("cg_4 after a failed transaction: first seen %s (%v), want it new", got, err)
		}
		return nil
	})
}

func TestPolls(t *testing.T) { eachBackend(t, testPolls) }

func testPolls(t *testing.T, b backend) {
	s := b.open(t, Options{})
	polls := []Poll{
		{Account: "prod", At: t0, OK: true},
		{Account: "prod", At: t0.Add(15 * time.Minute), OK: true, Unavailable: map[billing.Part]string{
			billing.PartCharges: "GET /v1/invoices: HTTP 403: the admin key was refused", billing.PartCosts: "GET /v1/costs: HTTP 503"}},
		{Account: "dev", At: t0.Add(20 * time.Minute), OK: true},
		{Account: "prod", At: t0.Add(30 * time.Minute), OK: false, Error: "fetch credit grants: data unavailable: HTTP 503"},
	}
	update(t, s, func(tx *Tx) error {
		for _, p := range polls {
			if err := tx.RecordPoll(p); err != nil {
				return err
			}
		}
		return nil
	})
	// after: PollsAfter's bound; zero, RecentPolls.
	tests := []struct {
		account string
		after   time.Time
		n       int
		want    []Poll
	}{
		{"prod", time.Time{}, 10, []Poll{polls[3], polls[1], polls[0]}},
		{"prod", time.Time{}, 2, []Poll{polls[3], polls[1]}},
		{"dev", time.Time{}, 10, []Poll{polls[2]}},
		{"nobody", time.Time{}, 10, nil},
		{"prod", t0, 10, []Poll{polls[3], polls[1]}},
		{"prod", t0.Add(15 * time.Minute), 10, []Poll{polls[3]}},
		{"prod", t0.Add(30 * time.Minute), 10, nil},
		{"prod", t0.Add(-time.Nanosecond), 1, []Poll{polls[3]}},
	}
	for _, tt := range tests {
		view(t, s, func(tx *Tx) error {
			got, err := tx.RecentPolls(tt.account, tt.n)
			if !tt.after.IsZero() {
				got, err = tx.PollsAfter(tt.account, tt.after, tt.n)
			}
			if err != nil {
				return err
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%s after %s, %d: got %d polls, want %d", tt.account, tt.after, tt.n, len(got), len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Account != w.Account || !g.At.Equal(w.At) || g.OK != w.OK || g.Error != w.Error || !maps.Equal(g.Unavailable, w.Unavailable) {
					t.Errorf("%s, %d: poll %d: got %+v, want %+v", tt.account, tt.n, i, g, w)
				}
			}
			return nil
		})
	}
	for _, tt := range []struct {
		p    Poll
		want string
	}{
		{Poll{Account: "prod", At: t0}, `record poll of account "prod": a failed poll needs an error`},
		{Poll{Account: "prod", At: t0, OK: true, Error: "x"}, `record poll of account "prod": a successful poll has no error (got "x")`},
		{Poll{Account: "prod", At: t0, OK: true, Unavailable: map[billing.Part]string{"invoices": "HTTP 404"}},
			`record poll of account "prod": unknown part "invoices": want balance, grants, charges or costs`},
		{Poll{Account: "prod", At: t0, OK: true, Unavailable: map[billing.Part]string{billing.PartCosts: ""}},
			`record poll of account "prod": part costs is unavailable without a reason`},
	} {
		wantErr(t, s.Update(t.Context(), func(tx *Tx) error { return tx.RecordPoll(tt.p) }), tt.want)
	}
}

// A poll stored before the store kept reasons still says which parts were
// unavailable, and that their reason is lost, never an empty one.
func TestPollsStoredWithoutReasons(t *testing.T) { eachBackend(t, testPollsStoredWithoutReasons) }

func testPollsStoredWithoutReasons(t *testing.T, b backend) {
	s := b.open(t, Options{})
	update(t, s, func(tx *Tx) error {
		_, err := tx.exec("INSERT INTO polls (account, at, ok, error, missing) VALUES ('prod', 1, TRUE, '', 'grants,balance')")
		return err
	})
	view(t, s, func(tx *Tx) error {
		got, err := tx.RecentPolls("prod", 1)
		if err != nil {
			return err
		}
		want := map[billing.Part]string{billing.PartGrants: lostReason, billing.PartBalance: lostReason}
		if len(got) != 1 || !maps.Equal(got[0].Unavailable, want) {
			t.Errorf("got %+v, want one poll with %v", got, want)
		}
		return nil
	})
}

// TestLastPollAt: the newest poll recorded, successful or not, whatever
// the order polls were recorded in.
func TestLastPollAt(t *testing.T) { eachBackend(t, testLastPollAt) }

func testLastPollAt(t *testing.T, be backend) {
	s := be.at(t, be.place(t), Options{})
	last := func() (time.Time, bool) {
		var at time.Time
		var ok bool
		view(t, s, func(tx *Tx) (err error) { at, ok, err = tx.LastPollAt("a"); return err })
		return at, ok
	}
	if at, ok := last(); ok {
		t.Errorf("no poll: got %s, true; want false", at)
	}
	t1 := t0.Add(time.Minute + 123*time.Nanosecond)
	update(t, s, func(tx *Tx) error { return tx.RecordPoll(Poll{Account: "a", At: t1, Error: "down"}) })
	update(t, s, func(tx *Tx) error { return tx.RecordPoll(Poll{Account: "a", At: t0, OK: true}) })
	update(t, s, func(tx *Tx) error { return tx.RecordPoll(Poll{Account: "b", At: t1.Add(time.Hour), OK: true}) })
	if at, ok := last(); !ok || !at.Equal(t1) {
		t.Errorf("got %s, %t; want %s, true", at, ok, t1)
	}
}
