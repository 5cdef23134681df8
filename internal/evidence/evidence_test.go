package evidence_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/evidence"
	"github.com/guardd/guardd/internal/ledger"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/rules"
	"github.com/shopspring/decimal"
)

// An invoice whose credit never lands is listed as a charge that became
// no credit, with its number, tax and the finding citing it; a charge that
// became its grant, cited by nothing, is left out unless All.
func TestChargeWithoutCredit(t *testing.T) {
	t0 := time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)
	a := lt.Account("5.00", "10.00")
	a.AutoRecharge.Enabled = false
	exp := t0.AddDate(1, 0, 0)
	old := lt.Grant("cg_01", billing.GrantPurchased, "50.00", "10.00", t0.AddDate(0, -1, 0), exp)
	paid := lt.Grant("cg_02", billing.GrantPurchased, "20.00", "0.00", t0, exp)
	good := lt.Invoice("in_good|1", t0.Add(90*time.Minute), "20.00", "0.00", billing.TriggerManual)
	lost := lt.Invoice("in_lost", t0.Add(150*time.Minute), "12.10", "2.10", billing.TriggerManual)
	var obs []billing.Observation
	for h := 0; h <= 8; h++ {
		at := t0.Add(time.Duration(h) * time.Hour)
		b := lt.At(at).Shown("40.00")
		gs := []billing.Grant{old}
		var cs []billing.Charge
		if h >= 2 {
			gs = append(gs, paid)
			cs = append(cs, good)
		}
		if h >= 3 {
			cs = append(cs, lost)
		}
		obs = append(obs, b.Grants(gs...).Charges(cs...).Build())
	}
	since, until := t0, t0.Add(9*time.Hour)
	o := evidence.Options{Params: rules.DefaultParams(), Ledger: ledger.DefaultOptions()}
	p, err := evidence.Build(a, obs, since, until, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Charges) != 1 {
		t.Fatalf("got %d charges, want the one without credit: %+v", len(p.Charges), p.Charges)
	}
	c := p.Charges[0]
	if c.Ref != "in_lost" || !c.NoCredit || !c.Tax.Equal(decimal.RequireFromString("2.10")) || len(c.Cited) != 1 ||
		p.Findings[c.Cited[0]].Rule != "charge-without-credit" {
		t.Errorf("got %+v, findings %+v; want in_lost, no credit, tax 2.10, cited by charge-without-credit", c, p.Findings)
	}
	if p.Total.NoCredit != 1 || !p.Total.NoCreditPaid.Equal(decimal.RequireFromString("12.10")) {
		t.Errorf("total: got %+v", p.Total)
	}
	var md bytes.Buffer
	if err := p.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| invoice in_lost |", "| $2.10 |", "no credit: no grant of $10.00 appeared", "charge-without-credit (F1)",
		"1 charge, $12.10 charged ($2.10 of it tax), $0.00 became credit; 1 charge ($12.10) became no credit."} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}

	o.All = true
	if p, err = evidence.Build(a, obs, since, until, o); err != nil {
		t.Fatal(err)
	}
	if len(p.Charges) != 2 || p.Charges[0].Ref != good.ID || p.Charges[0].GrantID != "cg_02" || len(p.Charges[0].Cited) != 0 {
		t.Fatalf("all: got %+v, want in_good (became cg_02, cited by nothing) then in_lost", p.Charges)
	}
	md.Reset()
	if err := p.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), `invoice in_good\|1`) {
		t.Errorf("a | in a cell is not escaped:\n%s", md.String())
	}
	var out bytes.Buffer
	if err := p.WriteCSV(&out); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[1][5] != "in_good|1" || rows[2][10] != "true" || rows[3][0] != "total" || rows[3][1] != "32.1" {
		t.Errorf("csv: got %q", rows)
	}
}
