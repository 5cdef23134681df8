package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/store/pgtest"
	"github.com/shopspring/decimal"
)

// t0 is the start of every test's clock.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func usd(cents int64) billing.Money { return billing.NewMoney(decimal.New(cents, -2), "USD") }

func account(name string) billing.Account {
	return billing.Account{Name: name, Provider: "openai", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst}
}

// observation returns an observation of account at at with a balance, the
// given number of grants, a charge and a cost bucket, like a real poll.
func observation(account string, at time.Time, grants int) billing.Observation {
	o := billing.Observation{
		Account: account,
		At:      at,
		Parts: map[billing.Part]billing.PartStatus{
			billing.PartBalance: {Source: "openai:/dashboard/billing/credit_grants", AsOf: at},
			billing.PartGrants:  {Source: "openai:/dashboard/billing/credit_grants", AsOf: at},
			billing.PartCharges: {Source: "openai:/v1/invoices", AsOf: at},
			billing.PartCosts:   {Source: "openai:/v1/organization/costs", AsOf: at.Add(-5 * time.Minute)},
		},
		Balance: billing.Balance{Shown: usd(200000 - at.Unix()%100000)},
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for g := range grants {
		eff := start.AddDate(0, g, 0)
		o.Grants = append(o.Grants, billing.Grant{
			ID: fmt.Sprintf("cg_%02d", g), Amount: usd(10000), Used: usd(int64(g * 7)),
			EffectiveAt: eff, ExpiresAt: eff.AddDate(1, 0, 0), Kind: billing.GrantPurchased,
		})
	}
	o.Charges = []billing.Charge{{
		ID: "in_1", PaidAt: start.Add(10 * time.Minute), Amount: usd(10800), Tax: usd(800),
		Origin: billing.ChargeInvoice, Trigger: billing.TriggerAutoRecharge,
	}}
	day := at.Truncate(24 * time.Hour)
	o.Costs = []billing.CostBucket{{Start: day, End: day.Add(24 * time.Hour), Amount: usd(1234)}}
	return o
}

// testOwner is the sender the tests claim outbox items for.
const testOwner = "pid 1 on test () sender 1"

// claimed claims outbox item id for testOwner at now, for an hour.
func claimed(tx *Tx, id int64, now time.Time) error {
	got, err := tx.Claim(testOwner, []int64{id}, now, now.Add(time.Hour))
	if err == nil && len(got) != 1 {
		err = fmt.Errorf("outbox item %d could not be claimed", id)
	}
	return err
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// backend is one of the databases the store keeps state in, for the tests
// of the store's contract: each runs against both (eachBackend).
type backend struct {
	name string
	// place makes a new, empty database and returns where it is (a path,
	// a DSN); at opens the database there.
	place func(t testing.TB) string
	at    func(t testing.TB, place string, opts Options) *Store
	// migs opens the database at place with only the migrations given.
	migs func(ctx context.Context, place string, opts Options, migs []migration) (*Store, error)
}

// open opens a new database.
func (b backend) open(t testing.TB, opts Options) *Store {
	t.Helper()
	return b.at(t, b.place(t), opts)
}

var (
	sqliteBackend = backend{
		name:  DriverSQLite,
		place: func(t testing.TB) string { return filepath.Join(t.TempDir(), "state.db") },
		at:    openAt,
		migs:  open,
	}
	postgresBackend = backend{
		name:  DriverPostgres,
		place: pgtest.DSN,
		at: func(t testing.TB, dsn string, opts Options) *Store {
			t.Helper()
			s, err := OpenPostgres(context.Background(), dsn, opts)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		migs: openPostgres,
	}
	backends = []backend{sqliteBackend, postgresBackend}
)

// eachBackend runs test against each backend, as subtests named after them.
func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

// openTest opens a new database in a temporary directory.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "state.db"), opts)
}

func openAt(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func update(t testing.TB, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t testing.TB, s *Store, fn func(*Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// wantErr fails unless err's text is want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("got no error, want %s", want)
	case err.Error() != want:
		t.Errorf("got error %s\nwant       %s", err, want)
	}
}
