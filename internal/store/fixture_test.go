package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/clock"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/store"
)

// regenFixture rewrites testdata/release-1.db and its expectations. The
// committed file was written by release 1 (commit cf21b3e); generating it
// with later code writes that code's format instead, which is not what the
// release-1 test is about. Do not regenerate it: add a new fixture for a new
// release.
var regenFixture = flag.Bool("regen-fixture", false, "write testdata/release-1.db (only on release 1, commit cf21b3e)")

const (
	fixtureDB   = "testdata/release-1.db"
	fixtureWant = "testdata/release-1.json"
)

// fixtureT0 is when the fixture's history starts.
var fixtureT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// The fixture's accounts: one in USD, one in CNY.
var (
	fixtureAcme = billing.Account{Name: "acme-openai", Provider: "openai", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst}
	fixtureBeta = billing.Account{Name: "beta-deepseek", Provider: "deepseek", Currency: "CNY", Drawdown: billing.DrawdownGrantsFirst}
)

// fixtureChannel and fixtureTS are where the fake Slack posts.
const fixtureChannel = "C0ALERTS"

// fixtureState is the position findings carry at h hours after fixtureT0.
func fixtureState(c billing.Currency, h int) billing.AccountState {
	at := fixtureT0.Add(time.Duration(h) * time.Hour)
	return billing.AccountState{
		Effective: lt.Money("23.30", c), EffectiveKnown: true,
		Shown: lt.Money("42.80", c), ShownKnown: true,
		Runway: billing.Runway{Known: true, BurnPerDay: lt.Money("6.004", c), Window: 2 * time.Hour,
			Lasts: 93*time.Hour + 10*time.Minute, Until: at.Add(93*time.Hour + 10*time.Minute)},
		ObservedAt: at,
	}
}

// fixtureFinding is the finding of rule on account a as explained at h
// hours after fixtureT0: every field the stored format keeps is set.
func fixtureFinding(rule string, sev billing.Severity, a billing.Account, entity string, h int) billing.Finding {
	at := fixtureT0.Add(time.Duration(h) * time.Hour)
	return billing.Finding{
		Rule: rule, Severity: sev, Account: a.Name, Entity: entity, At: at,
		Summary: rule + " on " + a.Name + ": 3 recharges of 10.00 in 6 hours",
		Evidence: []billing.Evidence{
			{What: "recharge", Ref: "cg_03", At: at.Add(-time.Hour), Amount: lt.Money("10.00", a.Currency),
				Note: "auto-recharge", Source: a.Provider + ":/dashboard/billing/credit_grants", AsOf: at.Add(-5 * time.Minute)},
			{What: "balance", At: at, Note: "no amount on this one"},
		},
		Recommendation: "Check the auto-recharge threshold.",
		State:          fixtureState(a.Currency, h),
		Folded:         []string{"recharge-above-threshold: 1 recharge above the threshold"},
	}
}

// fixtureObservation is account a's observation h hours after fixtureT0.
func fixtureObservation(a billing.Account, h int) billing.Observation {
	at := fixtureT0.Add(time.Duration(h) * time.Hour)
	day := fixtureT0.Add(-30 * 24 * time.Hour)
	o := lt.At(at).Build()
	o.Account = a.Name
	src := a.Provider + ":/dashboard/billing/credit_grants"
	o.Parts[billing.PartBalance] = billing.PartStatus{Source: src, AsOf: at}
	o.Parts[billing.PartGrants] = billing.PartStatus{Source: src, AsOf: at}
	o.Parts[billing.PartCharges] = billing.PartStatus{Source: a.Provider + ":/v1/invoices", AsOf: at.Add(-time.Minute)}
	o.Balance.Shown = lt.Money("42.80", a.Currency)
	o.Grants = []billing.Grant{
		{ID: "cg_01", Kind: billing.GrantPurchased, Amount: lt.Money("50.00", a.Currency), Used: lt.Money("7.20", a.Currency),
			EffectiveAt: day, ExpiresAt: day.AddDate(1, 0, 0)},
		{ID: "cg_02", Kind: billing.GrantPromotional, Amount: lt.Money("5", a.Currency), Used: lt.Money("5", a.Currency),
			EffectiveAt: day, ExpiresAt: at.Add(-time.Hour)},
	}
	o.Charges = []billing.Charge{{ID: "in_01", PaidAt: day.Add(time.Minute), Amount: lt.Money("54.00", a.Currency),
		Tax: lt.Money("4.00", a.Currency), Origin: billing.ChargeInvoice, Trigger: billing.TriggerAutoRecharge}}
	return o
}

// fixtureSlack is a fake Slack bot: it accepts everything, numbers the
// messages it creates, and threads (creating nothing) under a known ref.
type fixtureSlack struct {
	got []alert.Notification
}

var _ alert.Notifier = (*fixtureSlack)(nil)

func (s *fixtureSlack) Send(_ context.Context, n alert.Notification) (alert.Ref, bool, error) {
	s.got = append(s.got, n)
	if !n.Ref.IsZero() {
		return alert.Ref{}, false, nil
	}
	return alert.Ref{Channel: fixtureChannel, MessageID: fixtureTS(len(s.got))}, false, nil
}

// fixtureTS is the Slack ts of the i-th message.
func fixtureTS(i int) string { return "1772359200.00010" + string(rune('0'+i)) }

// down is a receiver that fails every time, retryably or not.
type down struct {
	retry bool
	msg   string
	calls int
}

var _ alert.Notifier = (*down)(nil)

func (d *down) Send(context.Context, alert.Notification) (alert.Ref, bool, error) {
	d.calls++
	return alert.Ref{}, d.retry, errors.New(d.msg)
}

// fixtureWanted is what the fixture holds, as written by the release that
// generated it: its alerts and silences, and its outbox items still pending
// and given up on.
type fixtureWanted struct {
	Alerts   []lifecycle.Alert
	Silences []lifecycle.Silence
	Pending  []lifecycle.OutboxItem
	Dead     []lifecycle.OutboxItem
}

// readFixture reads what a fixture database holds.
func readFixture(t *testing.T, st *store.Store) fixtureWanted {
	t.Helper()
	var got fixtureWanted
	if err := st.Lifecycle().View(context.Background(), func(tx lifecycle.Tx) error {
		var err error
		if got.Alerts, err = tx.Alerts("", ""); err != nil {
			return err
		}
		if got.Silences, err = tx.Silences(time.Time{}); err != nil {
			return err
		}
		if got.Pending, err = tx.Due(fixtureT0.AddDate(1, 0, 0), 0); err != nil {
			return err
		}
		got.Dead, err = tx.Dead()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestGenerateReleaseFixture writes a state database the way the release it
// runs on writes one, with every kind of row: observations of two accounts,
// polls that worked and one that failed, first-seen grants and charges,
// findings, alerts firing and resolved (one with a Slack ref and an ack),
// silences active and expired, and outbox items pending, sent and given up
// on. It also writes what the database must read back as.
func TestGenerateReleaseFixture(t *testing.T) {
	if !*regenFixture {
		t.Skip("run with -regen-fixture to write " + fixtureDB)
	}
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "release-1.db")
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	slack := &fixtureSlack{}
	receivers := []alert.Receiver{
		{Name: "team-slack", MinSeverity: billing.SeverityInfo, Notifier: slack},
		{Name: "webhook", MinSeverity: billing.SeverityWarning, Notifier: &down{msg: "HTTP 410 from the webhook: gone"}},
		{Name: "pager", MinSeverity: billing.SeverityCritical, Notifier: &down{retry: true, msg: "HTTP 503 from PagerDuty"}},
	}
	policy := lifecycle.Policy{
		Repeat:       map[billing.Severity]time.Duration{billing.SeverityCritical: 4 * time.Hour},
		ResolveAfter: 2,
		DigestAt:     lifecycle.DefaultDigestAt,
	}
	sender := &lifecycle.Sender{Store: st.Lifecycle(), Receivers: receivers, MaxAttempts: 3, Dispatcher: &alert.Dispatcher{Attempts: 1}}
	all := func(string) bool { return true }
	burst := func(h int) billing.Finding {
		return fixtureFinding("recharge-burst", billing.SeverityCritical, fixtureAcme, "recharges", h)
	}
	phantom := func(h int) billing.Finding {
		return fixtureFinding("phantom-balance", billing.SeverityWarning, fixtureAcme, "balance", h)
	}
	credit := func(h int) billing.Finding {
		return fixtureFinding("credit-without-charge", billing.SeverityInfo, fixtureBeta, "cg_01", h)
	}
	runway := func(h int) billing.Finding {
		return fixtureFinding("low-runway", billing.SeverityCritical, fixtureBeta, "balance", h)
	}
	// cycle does what guard's cycle does for one account: the poll, the
	// observation and its first-seen facts, the decision and the outbox in
	// one transaction.
	cycle := func(a billing.Account, h int, pollErr error, holding ...billing.Finding) {
		t.Helper()
		at := fixtureT0.Add(time.Duration(h) * time.Hour)
		explain := func(f billing.Finding) billing.Finding {
			for _, e := range []billing.Finding{burst(h), phantom(h), credit(h), runway(h)} {
				if e.Fingerprint() == f.Fingerprint() {
					return e
				}
			}
			t.Fatalf("no explanation for %s", f.Rule)
			return f
		}
		judged := all
		if pollErr != nil {
			judged = func(rule string) bool { return rule == "source-blind" }
		}
		if err := st.Update(ctx, func(tx *store.Tx) error {
			p := store.Poll{Account: a.Name, At: at, OK: pollErr == nil}
			if pollErr != nil {
				p.Error = pollErr.Error()
			} else {
				o := fixtureObservation(a, h)
				if err := tx.AppendObservation(a, o); err != nil {
					return err
				}
				for _, g := range o.Grants {
					if _, err := tx.FirstSeen(a.Name, store.KindGrant, g.ID, at); err != nil {
						return err
					}
				}
				for _, c := range o.Charges {
					if _, err := tx.FirstSeen(a.Name, store.KindCharge, c.ID, at); err != nil {
						return err
					}
				}
			}
			if err := tx.RecordPoll(p); err != nil {
				return err
			}
			ns, err := lifecycle.Decide(tx, a.Name, holding, explain, judged, fixtureState(a.Currency, h), at, policy)
			if err != nil {
				return err
			}
			return lifecycle.Enqueue(tx, ns, receivers, at, policy)
		}); err != nil {
			t.Fatal(err)
		}
	}
	drain := func(h int) {
		t.Helper()
		sender.Drain(ctx, fixtureT0.Add(time.Duration(h)*time.Hour)) // failures are part of the fixture
	}
	strip := func(fs ...billing.Finding) []billing.Finding {
		var out []billing.Finding
		for _, f := range fs {
			out = append(out, billing.Finding{Rule: f.Rule, Severity: f.Severity, Account: f.Account, Entity: f.Entity, At: f.At})
		}
		return out
	}

	// 10:00: the burst and the phantom balance fire on acme; an info
	// finding on beta waits for the daily digest.
	cycle(fixtureAcme, 0, nil, strip(burst(0), phantom(0))...)
	cycle(fixtureBeta, 0, nil, strip(credit(0))...)
	drain(0)
	// 11:00: the phantom balance is missed once; beta cannot be read.
	cycle(fixtureAcme, 1, nil, strip(burst(1))...)
	cycle(fixtureBeta, 1, errors.New("poll: source unavailable: HTTP 503"))
	drain(1)
	// 12:00: the phantom balance resolves (threaded under its Slack
	// message); beta's runway goes critical, and PagerDuty is down.
	cycle(fixtureAcme, 2, nil, strip(burst(2))...)
	cycle(fixtureBeta, 2, nil, strip(credit(2), runway(2))...)
	drain(2)

	// People: the burst is acknowledged and beta's runway silenced from
	// Slack; a silence added from the command line is expired early.
	actions := lifecycle.StoreActions{Store: st.Lifecycle(), Clock: clock.Fixed(fixtureT0.Add(150 * time.Minute))}
	if err := actions.Ack(ctx, burst(0).Fingerprint(), "U42"); err != nil {
		t.Fatal(err)
	}
	if err := actions.Silence(ctx, "low-runway", fixtureBeta.Name, 24*time.Hour, "U42", "silenced from Slack"); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx *store.Tx) error {
		id, err := tx.AddSilence(lifecycle.Silence{Rule: "phantom-grant", Start: fixtureT0, End: fixtureT0.Add(7 * 24 * time.Hour),
			Comment: "provider bug #12", CreatedBy: "ana"})
		if err != nil {
			return err
		}
		return tx.ExpireSilence(id, fixtureT0.Add(3*time.Hour))
	}); err != nil {
		t.Fatal(err)
	}

	want := readFixture(t, st)
	if len(want.Alerts) != 4 || len(want.Silences) != 2 || len(want.Pending) != 4 || len(want.Dead) != 3 {
		t.Fatalf("got %d alerts, %d silences, %d pending and %d dead items, want 4, 2, 4 and 3",
			len(want.Alerts), len(want.Silences), len(want.Pending), len(want.Dead))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	body, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("the WAL is still there after Close: the database file alone would miss rows")
	}
	if err := os.WriteFile(fixtureDB, db, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fixtureWant, append(body, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes) and %s", fixtureDB, len(db), fixtureWant)
}
