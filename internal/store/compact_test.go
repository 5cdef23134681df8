package store

import (
	"bytes"
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/history"
	"github.com/guardd/guardd/internal/store/delta"
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

// TestWholeRowsAmongDeltas: rows holding the full text, as guardd wrote
// every observation before deltas, read back side by side with delta rows
// at the current schema, wherever they fall: first, between deltas of one
// base, last (the next observation builds on it).
func TestWholeRowsAmongDeltas(t *testing.T) {
	sh := shapes[0]
	obs := sh.polls(t, pollsPerDay)
	s := openTest(t, Options{})
	for i, o := range obs {
		if i%10 == 0 {
			appendFull(t, s, sh.account, o)
			continue
		}
		record(t, s, sh.account, []billing.Observation{o})
	}
	readBack(t, s, sh.account, time.Time{}, obs)
	readBack(t, s, sh.account, obs[10].At, obs[10:])
	readBack(t, s, sh.account, obs[11].At, obs[11:])
	whole := count(t, s, "SELECT count(*) FROM observations WHERE base IS NULL")
	if want := (len(obs) + 9) / 10; whole < want || whole > want+2 {
		t.Errorf("whole rows: got %d, want the %d written whole and at most 2 more", whole, want)
	}
	if b := baseOf(t, s, sh.account.Name, obs[11].At); b == 0 || b != baseOf(t, s, sh.account.Name, obs[19].At) {
		t.Errorf("polls 11 and 19: got bases %d and %d, want one shared base after a whole row", b, baseOf(t, s, sh.account.Name, obs[19].At))
	}
}

// TestBasesAreVersion8: the observation bases are schema version 8;
// version 7 is the ledger checkpoints'.
func TestBasesAreVersion8(t *testing.T) {
	if len(migrations) < 8 || !strings.Contains(migrations[7].sql, "CREATE TABLE observation_bases") {
		t.Errorf("schema version 8: want the step that creates observation_bases")
	}
}

// TestUnchangedPartsStoredOnce: the credit grants and cost buckets that do
// not change from one poll to the next are not stored again at each poll,
// nor after a poll that could not read them.
func TestUnchangedPartsStoredOnce(t *testing.T) {
	sh := shapes[0]
	polls := sh.polls(t, 2*pollsPerDay)
	for name, obs := range map[string][]billing.Observation{"every part read": polls, "some polls partial": varied(polls)} {
		t.Run(name, func(t *testing.T) {
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
		})
	}
}

// TestDamagedDelta: a stored delta or base that does not fit is an error
// naming the observation and what is wrong, never a panic and never an
// observation made up.
func TestDamagedDelta(t *testing.T) {
	const at = `"at":"2026-03-01T13:00:00Z"`
	whole := `{` + at + `,"source":0,"balance":0,"grants":[0,1,2],"charges":0,"costs":0,"sources":0}`
	tests := []struct {
		name  string
		delta string
		base  int64 // 0: the account's own base
		want  string
	}{
		{"intact", whole, 0, ""},
		{"not JSON", `{` + at + `,"source":`, 0, `its delta against base 1: not compact JSON: want an object`},
		{"an element the base lacks", `{` + at + `,"source":0,"grants":[0,7]}`, 0,
			`its delta against base 1: "grants": element 7 of a base array of 3`},
		{"a run backwards", `{` + at + `,"source":0,"grants":[[2,0]]}`, 0,
			`its delta against base 1: "grants": "[2,0]" is not a run of elements`},
		{"an element number out of bounds", `{` + at + `,"source":0,"grants":[99999999999]}`, 0,
			`its delta against base 1: "grants": "99999999999" is not an element number`},
		{"a member the base lacks", `{` + at + `,"source":0,"derived":0}`, 0,
			`its delta against base 1: "derived": "0" does not name a member of the base`},
		{"a patch of a field the base lacks", `{` + at + `,"source":0,"grants":[{"=":0,"colour":"red"}]}`, 0,
			`its delta against base 1: "grants": a patch replaces a member the base lacks, or one twice`},
		{"a patch of another element", `{` + at + `,"source":0,"grants":[{"=":"1","used":"1.00"}]}`, 0,
			`its delta against base 1: "grants": "\"1\"" is not an element number`},
		{"a missing base", whole, 99, `its base 99 is missing`},
		{"another account's base", whole, 2, `its base 2 is of account "dev"`},
		{"a value the decoder refuses", `{` + at + `,"source":0,"grants":[{"=":0,"amount":"-5.00"}]}`, 0,
			`decode the observation at 2026-03-01T13:00:00Z: grants[0].amount: must not be negative (got -5.00)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, Options{})
			db := rawDB(t, s.Path()) // foreign keys off: a damaged file
			for _, b := range []struct{ account, text string }{
				{"prod", string(encode(t, observation("prod", t0, 3)))},
				{"dev", string(encode(t, observation("dev", t0, 3)))},
			} {
				if _, err := db.Exec("INSERT INTO observation_bases (account, data) VALUES (?, ?)", b.account, b.text); err != nil {
					t.Fatal(err)
				}
			}
			base := cmp.Or(tt.base, 1)
			if _, err := db.Exec("INSERT INTO observations (account, at, data, base) VALUES ('prod', ?, ?, ?)",
				t0.Add(time.Hour).UnixNano(), tt.delta, base); err != nil {
				t.Fatal(err)
			}
			err := s.View(t.Context(), func(tx *Tx) error {
				_, err := tx.Observations(account("prod"), time.Time{})
				return err
			})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want the observation", err)
				}
				return
			}
			want := `read observations of account "prod": the observation at 2026-03-01T13:00:00Z: ` + tt.want
			if strings.HasPrefix(tt.want, "decode ") {
				want = `read observations of account "prod": ` + tt.want
			}
			wantErr(t, err, want)

			// The account grows on: the next observation is stored
			// whole rather than on a base that does not fit.
			next := observation("prod", t0.Add(2*time.Hour), 3)
			update(t, s, func(tx *Tx) error { return tx.AppendObservation(account("prod"), next) })
			readBack(t, s, account("prod"), next.At, []billing.Observation{next})
		})
	}
}

// TestDeltaRebuilds: the delta of any poll against any other of the same
// account rebuilds it byte for byte, short enough to be stored or not; and
// against the poll before that read the same parts, it is short.
func TestDeltaRebuilds(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			obs := varied(sh.polls(t, 2*pollsPerDay))
			texts := make([][]byte, len(obs))
			for i, o := range obs {
				texts[i] = encode(t, o)
			}
			for i := 0; i < len(texts); i += 5 {
				for j := 0; j < len(texts); j += 7 {
					b, err := delta.NewBase(texts[j])
					if err != nil {
						t.Fatal(err)
					}
					d, err := delta.Diff(texts[i], b)
					if err != nil {
						t.Fatal(err)
					}
					back, err := delta.Patch(nil, d, b)
					if err != nil || !bytes.Equal(back, texts[i]) {
						t.Fatalf("poll %d against poll %d: delta %s\nrebuilds %s (%v)\nwant     %s", i, j, d, back, err, texts[i])
					}
				}
			}
			if sh.name != "openai" {
				return
			}
			for i := 1; i < len(texts); i++ {
				if !maps.EqualFunc(obs[i].Parts, obs[i-1].Parts, func(a, b billing.PartStatus) bool { return a.Unavailable == b.Unavailable }) {
					continue // a part read at one poll and not at the other
				}
				b, _ := delta.NewBase(texts[i-1])
				if d, _ := delta.Diff(texts[i], b); len(d) > len(texts[i])/10 {
					t.Errorf("poll %d: got a delta of %d bytes against the poll before, want at most a tenth of its %d: %s", i, len(d), len(texts[i]), d)
				}
			}
		})
	}
}

// TestRelease1Compacts: the rows of a database written before deltas stay
// as they were and read back as before; the observations appended after
// the migration are stored as deltas, and all read back as appended.
func TestRelease1Compacts(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "release-1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	acme := billing.Account{Name: "acme-openai", Provider: "openai", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst}
	type row struct {
		at   int64
		data string
	}
	rows := func(db interface {
		Query(string, ...any) (*sql.Rows, error)
	}) []row {
		rs, err := db.Query("SELECT at, data FROM observations WHERE account = ? ORDER BY at", acme.Name)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []row
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.at, &r.data); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	before := rows(rawDB(t, path))
	if len(before) != 3 {
		t.Fatalf("release 1 rows of %s: got %d, want 3", acme.Name, len(before))
	}
	var want []billing.Observation
	for _, r := range before {
		o, err := history.DecodeObservation([]byte(r.data), acme)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, o)
	}

	s := openAt(t, path, Options{})
	last := want[len(want)-1].At
	var added []billing.Observation
	for i := range pollsPerDay {
		added = append(added, observation(acme.Name, last.Add(time.Duration(i+1)*pollEvery), 20))
	}
	record(t, s, acme, added)
	readBack(t, s, acme, time.Time{}, append(want, added...))
	if got := rows(s.db)[:3]; !slices.Equal(got, before) {
		t.Errorf("release 1 rows after the migration:\ngot  %v\nwant %v", got, before)
	}
	if n := count(t, s, "SELECT count(*) FROM observations WHERE account = ? AND base IS NOT NULL", acme.Name); n < len(added)-2 {
		t.Errorf("observations stored as deltas: got %d of the %d appended, want all but the first two", n, len(added))
	}
}

// compactCrashEnv names the database TestCompactCrashHelper writes to.
const compactCrashEnv = "GUARDD_STORE_COMPACT_CRASH_DB"

// TestCompactCrashHelper is not a test: run by TestCompactCrash in a
// process of its own, it appends an OpenAI account's polls, one
// transaction each, and dies half-way through the first one that starts a
// new base after deltas were stored on another: the base is written, the
// observation too, and nothing is committed.
func TestCompactCrashHelper(t *testing.T) {
	path := os.Getenv(compactCrashEnv)
	if path == "" {
		t.Skip("helper process for TestCompactCrash")
	}
	sh := shapes[0]
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		os.Exit(2)
	}
	for _, o := range sh.polls(t, 3*pollsPerDay) {
		err := s.Update(t.Context(), func(tx *Tx) error {
			var before, after int
			if err := tx.queryRow([]any{&before}, "SELECT count(*) FROM observation_bases"); err != nil {
				return err
			}
			if err := tx.AppendObservation(sh.account, o); err != nil {
				return err
			}
			if err := tx.queryRow([]any{&after}, "SELECT count(*) FROM observation_bases"); err != nil {
				return err
			}
			if before > 0 && after > before {
				os.Exit(3) // crash before commit
			}
			return nil
		})
		if err != nil {
			os.Exit(2)
		}
	}
	os.Exit(4) // no second base
}

// TestCompactCrash: a process killed while it stores an observation and
// the new base it starts leaves the observations committed before, each
// reading back as appended, and no base nothing refers to; the next
// process appends on from there.
func TestCompactCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCompactCrashHelper$")
	cmd.Env = append(os.Environ(), compactCrashEnv+"="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("helper: got %v, want exit status 3\n%s", err, out)
	}
	sh := shapes[0]
	obs := sh.polls(t, 3*pollsPerDay)
	s := openAt(t, path, Options{})
	var n int
	view(t, s, func(tx *Tx) (err error) { n, err = tx.ObservationCount(sh.account.Name); return err })
	if n < 2 || n >= len(obs) {
		t.Fatalf("observations after the crash: got %d, want some and not all", n)
	}
	readBack(t, s, sh.account, time.Time{}, obs[:n])
	noOrphans(t, s)
	if got := count(t, s, "SELECT count(*) FROM observation_bases WHERE id NOT IN (SELECT base FROM observations WHERE base IS NOT NULL)"); got != 0 {
		t.Errorf("bases no observation refers to: got %d, want none", got)
	}
	record(t, s, sh.account, obs[n:])
	readBack(t, s, sh.account, time.Time{}, obs)
	if b := baseOf(t, s, sh.account.Name, obs[n].At); b == baseOf(t, s, sh.account.Name, obs[n-1].At) {
		t.Errorf("the observation the crash lost: got it on the base before (%d), want it to start a new one again", b)
	}
}
