package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/inbox"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/mailbox"
)

// fill writes a little of everything the state keeps: days of polls of
// two accounts, findings, alerts (one acked), silences (one expired), an
// outbox with a sent, a dead, a pending and a claimed item, a cursor and
// receipts.
func fill(t testing.TB, s *Store, days int) {
	t.Helper()
	update(t, s, func(tx *Tx) error {
		for _, name := range []string{"prod", "dev"} {
			for i := range days * 4 {
				at := t0.Add(time.Duration(i) * 6 * time.Hour)
				if err := tx.AppendObservation(account(name), observation(name, at, 2)); err != nil {
					return err
				}
				p := Poll{Account: name, At: at, OK: i%7 != 3}
				if !p.OK {
					p.Error = "timeout"
				} else if i%5 == 0 {
					p.Unavailable = map[billing.Part]string{billing.PartCosts: "403 from the Costs API"}
				}
				if err := tx.RecordPoll(p); err != nil {
					return err
				}
				if i%3 == 0 {
					if err := tx.RecordFinding(lifecycle.FindingRecord{Account: name, Rule: "recharge-burst", Entity: "",
						Fingerprint: billing.Fingerprint("recharge-burst", name, ""), Severity: billing.SeverityCritical,
						At: at, Silenced: i%2 == 0, Summary: "3 recharges in 6h"}); err != nil {
						return err
					}
				}
			}
			if _, err := tx.FirstSeen(name, KindGrant, "cg_00", t0); err != nil {
				return err
			}
			// Bytes of every value, as a checkpoint's are.
			cp := LedgerCheckpoint{Account: name, Version: 1, Fingerprint: "f-" + name, At: t0.Add(time.Duration(days) * 24 * time.Hour),
				Data: append([]byte("GLCP\x00\xff\n'\""), name...)}
			if err := tx.PutLedgerCheckpoint(cp); err != nil {
				return err
			}
			if err := tx.PutAlert(lifecycle.Alert{Account: name, Rule: "recharge-burst", Severity: billing.SeverityCritical,
				State: lifecycle.Firing, FiredAt: t0, LastSentAt: t0, LastSeenAt: t0.Add(time.Hour), Finding: []byte(`{"v":1}`),
				Receivers: map[string]lifecycle.ReceiverRef{"slack": {Channel: "C1", MessageID: "1.2"}}, AckedBy: "alice", AckedAt: t0.Add(time.Minute)}); err != nil {
				return err
			}
		}
		for i, end := range []time.Duration{time.Hour, 48 * time.Hour} {
			id, err := tx.AddSilence(lifecycle.Silence{Rule: "recharge-burst", Start: t0, End: t0.Add(end), Comment: fmt.Sprint("ticket ", i), CreatedBy: "bob"})
			if err != nil {
				return err
			}
			if i == 1 {
				if err := tx.ExpireSilence(id, t0.Add(time.Hour)); err != nil {
					return err
				}
			}
		}
		for i := range 4 {
			id, err := tx.Enqueue(item("slack", t0.Add(time.Duration(i)*time.Minute)))
			if err != nil {
				return err
			}
			switch i {
			case 0:
				err = claimedThen(tx, id, func() error { return tx.MarkSent(id, testOwner, t0.Add(time.Hour)) })
			case 1:
				err = claimedThen(tx, id, func() error {
					return tx.MarkFailed(id, testOwner, t0.Add(time.Hour), "410 gone", time.Time{}, true)
				})
			case 2:
				err = claimed(tx, id, t0.Add(time.Hour))
			}
			if err != nil {
				return err
			}
		}
		if err := tx.SetMailboxCursor("billing", mailbox.Cursor("uidvalidity=7;uid=12"), t0); err != nil {
			return err
		}
		charge := billing.Charge{ID: "2001-0001", PaidAt: t0, Amount: usd(1080), Tax: usd(80), Origin: billing.ChargeReceipt, Trigger: billing.TriggerAutoRecharge}
		for _, f := range []inbox.Filed{
			{Key: "anthropic:2001-0001", Account: "prod", Mailbox: "billing", Charge: charge, ReadAt: t0},
			{Key: "problem:billing:imap:7:12", Account: "prod", Mailbox: "billing", Problem: "cannot read the amount", ReadAt: t0},
		} {
			if _, err := tx.FileReceipt(f); err != nil {
				return err
			}
		}
		return tx.MarkReceiptsDelivered("prod", []string{"anthropic:2001-0001"}, t0.Add(time.Hour))
	})
}

func claimedThen(tx *Tx, id int64, then func() error) error {
	if err := claimed(tx, id, t0.Add(time.Hour)); err != nil {
		return err
	}
	return then()
}

// TestCopy copies a SQLite state with some of everything into PostgreSQL:
// every table's rows and checksum match, the copy reads back through the
// store as the original does, new ids follow the copied ones, and a second
// copy into the now full database is refused.
func TestCopy(t *testing.T) {
	ctx := context.Background()
	src := sqliteBackend.open(t, Options{})
	fill(t, src, 10)
	dst := postgresBackend.open(t, Options{})
	got, err := Copy(ctx, dst, src)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Checksums(ctx, src)
	if !slices.Equal(got, want) {
		t.Errorf("copy: got %v, want %v", got, want)
	}
	rows := map[string]int64{}
	for _, c := range got {
		rows[c.Table] = c.Rows
	}
	if rows["observations"] != 80 || rows["polls"] != 80 || rows["outbox"] != 4 || rows["silences"] != 2 || rows["receipts"] != 2 ||
		rows["ledger_checkpoints"] != 2 {
		t.Errorf("rows copied: got %v", rows)
	}
	read := func(s *Store) string {
		var b strings.Builder
		view(t, s, func(tx *Tx) error {
			obs, err := tx.Observations(account("prod"), time.Time{})
			fmt.Fprintln(&b, len(obs), obs[len(obs)-1].Balance.Shown, err)
			ps, err := tx.RecentPolls("prod", 5)
			fmt.Fprintln(&b, ps, err)
			as, err := tx.Alerts("", "")
			fmt.Fprintln(&b, as, err)
			ss, err := tx.Silences(time.Time{})
			fmt.Fprintln(&b, ss, err)
			due, err := tx.Due(t0.Add(2*time.Hour), 0)
			fmt.Fprintln(&b, due, err)
			dead, err := tx.Dead()
			fmt.Fprintln(&b, dead, err)
			pr, err := tx.PendingReceipts("prod")
			fmt.Fprintln(&b, pr, err)
			c, at, err := tx.MailboxCursor("billing")
			fmt.Fprintln(&b, c, at, err)
			cp, ok, err := tx.LedgerCheckpoint("prod")
			fmt.Fprintln(&b, cp, ok, err)
			return nil
		})
		return b.String()
	}
	if a, b := read(src), read(dst); a != b {
		t.Errorf("the copy reads back differently:\nsqlite:\n%s\npostgres:\n%s", a, b)
	}
	for _, s := range []*Store{src, dst} {
		update(t, s, func(tx *Tx) error {
			id, err := tx.AddSilence(lifecycle.Silence{Start: t0, End: t0.Add(time.Hour), Comment: "next"})
			if id != 3 {
				t.Errorf("%s: the silence after the copy: got id %d, want 3", s.Driver(), id)
			}
			return err
		})
	}
	if _, err := Copy(ctx, dst, src); err == nil || !strings.Contains(err.Error(), "the destination already holds state (22 rows in observation_bases): copy only into a new database") {
		t.Errorf("second copy: got %v, want a refusal", err)
	}
}

// TestCopyTablesCoverSchema: every table and column of the schema, on both
// databases, is in copyTables, with a kind that matches its type.
func TestCopyTablesCoverSchema(t *testing.T) {
	want := map[string]string{}
	for _, ct := range copyTables {
		for i, c := range ct.cols {
			want[ct.name+"."+c] = strings.ToLower(string(ct.kinds[i]))
		}
	}
	kindOf := func(typ string) string {
		switch strings.ToLower(typ) {
		case "integer", "bigint":
			return "i"
		case "text":
			return "t"
		case "boolean":
			return "b"
		case "blob", "bytea":
			return "x"
		}
		return "?" + typ
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, Options{})
			q := `SELECT m.name, p.name, p.type FROM sqlite_schema m, pragma_table_info(m.name) p
				WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND m.name <> 'schema_version'`
			if b.name == DriverPostgres {
				q = `SELECT table_name, column_name, data_type FROM information_schema.columns
					WHERE table_schema = current_schema() AND table_name <> 'schema_version'`
			}
			got := map[string]string{}
			view(t, s, func(tx *Tx) error {
				rows, err := tx.query(q)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var table, col, typ string
					if err := rows.Scan(&table, &col, &typ); err != nil {
						return err
					}
					k := kindOf(typ)
					if b.name == DriverSQLite && (col == "ok" || col == "silenced") {
						k = "b" // INTEGER 0 or 1
					}
					got[table+"."+col] = k
				}
				return rows.Err()
			})
			for c, k := range got {
				if want[c] != k {
					t.Errorf("column %s (%s): copyTables has %q", c, k, want[c])
				}
			}
			for c := range want {
				if _, ok := got[c]; !ok {
					t.Errorf("copyTables has %s, which the schema lacks", c)
				}
			}
		})
	}
}

// TestCopyYear copies a year of hourly observations (20 grants each) with
// their polls, the size of a state a year in use, and verifies it.
func TestCopyYear(t *testing.T) {
	ctx := context.Background()
	src := sqliteBackend.open(t, Options{})
	acct := account("year")
	update(t, src, func(tx *Tx) error {
		for _, o := range year("year") {
			if err := tx.AppendObservation(acct, o); err != nil {
				return err
			}
			if err := tx.RecordPoll(Poll{Account: "year", At: o.At, OK: true}); err != nil {
				return err
			}
		}
		return nil
	})
	dst := postgresBackend.open(t, Options{})
	got, err := Copy(ctx, dst, src)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, c := range got {
		rows[c.Table] = c.Rows
	}
	if rows["observations"] != hoursPerYear || rows["polls"] != hoursPerYear || rows["observation_bases"] < 1 {
		t.Errorf("copied %v, want %d observations and polls", got, hoursPerYear)
	}
	view(t, dst, func(tx *Tx) error {
		obs, err := tx.Observations(acct, time.Time{})
		if err == nil && (len(obs) != hoursPerYear || len(obs[0].Grants) != 20) {
			t.Errorf("read back %d observations, want %d with 20 grants each", len(obs), hoursPerYear)
		}
		return err
	})
}
