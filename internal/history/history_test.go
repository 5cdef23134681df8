package history

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/guardd/guardd/internal/billing"
	"github.com/shopspring/decimal"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err and testdata/good/*.golden from the current output")

func money(t *testing.T, s string, c billing.Currency) billing.Money {
	t.Helper()
	m, err := billing.ParseMoney(s, c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

func decodeFile(t *testing.T, path string) *File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return f
}

func TestDecodeExample(t *testing.T) {
	usd := func(s string) billing.Money { return money(t, s, "USD") }
	const grantsSrc = "openai:/dashboard/billing/credit_grants"
	at0 := ts(t, "2026-10-01T00:00:00Z")
	at1 := ts(t, "2026-10-01T01:00:00Z")
	at2 := ts(t, "2026-10-01T02:00:00.5Z")
	cg01 := billing.Grant{
		ID: "cg_01", Amount: usd("10"), Used: usd("1.25"),
		EffectiveAt: ts(t, "2026-09-30T23:59:59Z"), ExpiresAt: ts(t, "2027-09-30T23:59:59Z"),
		Kind: billing.GrantPurchased,
	}
	want := &File{
		Account: billing.Account{
			Name:     "acme-openai",
			Provider: "openai",
			Currency: "USD",
			Drawdown: billing.DrawdownExpiringFirst,
			AutoRecharge: billing.AutoRecharge{
				Enabled:         true,
				Threshold:       usd("5"),
				Mode:            billing.RechargeAdd,
				Amount:          usd("10"),
				Target:          usd("0"),
				MonthlyLimit:    usd("200"),
				HasMonthlyLimit: true,
			},
		},
		Observations: []billing.Observation{
			{
				Account: "acme-openai",
				At:      at0,
				Parts: map[billing.Part]billing.PartStatus{
					billing.PartBalance: {Source: grantsSrc, AsOf: at0},
					billing.PartGrants:  {Source: grantsSrc, AsOf: at0},
					billing.PartCharges: {Source: grantsSrc, AsOf: at0, Unavailable: "no invoice endpoint for this provider"},
					billing.PartCosts:   {Source: "openai:/v1/organization/costs", AsOf: ts(t, "2026-09-30T23:55:00Z")},
				},
				Balance: billing.Balance{Shown: usd("110"), HasSplit: true, Granted: usd("10"), Paid: usd("100")},
				Grants:  []billing.Grant{cg01},
				Costs: []billing.CostBucket{{
					Start: ts(t, "2026-09-30T00:00:00Z"), End: at0, Amount: usd("3.21"), Settled: true,
				}},
			},
			{
				Account: "acme-openai",
				At:      at1,
				Parts: map[billing.Part]billing.PartStatus{
					billing.PartBalance: {Source: grantsSrc, AsOf: at1},
					billing.PartGrants:  {Source: grantsSrc, AsOf: at1},
					billing.PartCharges: {Source: grantsSrc, AsOf: at1},
				},
				Balance: billing.Balance{Shown: usd("118.75")},
				Grants: []billing.Grant{cg01, {
					ID: "cg_02", Amount: usd("10"), Used: usd("0"),
					EffectiveAt: ts(t, "2026-09-30T23:59:59Z"), Kind: billing.GrantUnknown,
				}},
				Charges: []billing.Charge{{
					ID: "in_1", PaidAt: ts(t, "2026-10-01T00:10:00Z"), Amount: usd("10.80"), Tax: usd("0.80"),
					Origin: billing.ChargeInvoice, Trigger: billing.TriggerAutoRecharge,
				}},
			},
			{
				Account: "acme-openai",
				At:      at2,
				Parts: map[billing.Part]billing.PartStatus{
					billing.PartBalance: {Source: grantsSrc, AsOf: at2, Unavailable: "http 503 from /dashboard/billing/credit_grants"},
					billing.PartGrants:  {Source: grantsSrc, AsOf: at2},
					billing.PartCharges: {Source: "openai:/v1/invoices", AsOf: at2},
				},
				Grants: []billing.Grant{},
				Charges: []billing.Charge{{
					ID: "in_1", PaidAt: ts(t, "2026-10-01T00:10:00Z"), Amount: usd("10.80"), Tax: usd("0"),
					Origin: billing.ChargeInferred, Trigger: billing.TriggerUnknown,
				}},
			},
		},
	}
	got := decodeFile(t, "testdata/good/example.json")
	for _, d := range diffFile(got, want) {
		t.Error(d)
	}
	// What the domain reports about the parts, not just the map.
	o := got.Observations
	if o[0].Has(billing.PartCharges) || !o[1].Has(billing.PartCharges) || o[1].Has(billing.PartCosts) {
		t.Errorf("Has(charges) at 0, 1 and Has(costs) at 1: got %v, %v, %v, want false, true, false",
			o[0].Has(billing.PartCharges), o[1].Has(billing.PartCharges), o[1].Has(billing.PartCosts))
	}
	if _, attempted := o[1].Status(billing.PartCosts); attempted {
		t.Errorf("observations[1] costs attempted: got true, want false (costs is null)")
	}
	if !o[2].Has(billing.PartGrants) || len(o[2].Grants) != 0 {
		t.Errorf("observations[2] grants: got read=%v len=%d, want read and empty", o[2].Has(billing.PartGrants), len(o[2].Grants))
	}
}

func TestDecodeDeepSeek(t *testing.T) {
	got := decodeFile(t, "testdata/good/deepseek.json")
	cny := func(s string) billing.Money { return money(t, s, "CNY") }
	a := got.Account
	if a.Currency != "CNY" || a.Drawdown != billing.DrawdownGrantsFirst || a.AutoRecharge.Mode != billing.RechargeRestore {
		t.Errorf("account: got %s %s %s, want CNY grants-first restore", a.Currency, a.Drawdown, a.AutoRecharge.Mode)
	}
	if !a.AutoRecharge.Target.Amount().Equal(decimal.NewFromInt(100)) || a.AutoRecharge.HasMonthlyLimit {
		t.Errorf("auto_recharge: got target %s limit %v, want 100 and no limit", a.AutoRecharge.Target, a.AutoRecharge.HasMonthlyLimit)
	}
	if len(got.Observations) != 2 {
		t.Fatalf("observations: got %d, want 2", len(got.Observations))
	}
	o0, o1 := got.Observations[0], got.Observations[1]
	if want := ts(t, "2026-03-01T00:00:00Z"); !o0.At.Equal(want) || o0.At.Location() != time.UTC {
		t.Errorf("observations[0].at: got %v, want %v in UTC", o0.At, want)
	}
	if b := o0.Balance; !b.HasSplit || !b.Granted.Amount().Equal(cny("5").Amount()) || b.Paid.Currency() != "CNY" {
		t.Errorf("observations[0].balance: got %+v, want split 5 + 95.50 CNY", b)
	}
	if len(o0.Parts) != 1 {
		t.Errorf("observations[0] parts: got %v, want balance only", o0.Parts)
	}
	g := o1.Grants[0]
	if g.Kind != billing.GrantPromotional || !g.Remaining().Amount().Equal(decimal.RequireFromString("4.5")) || !g.FirstSeen.IsZero() {
		t.Errorf("grant: got kind %s remaining %s first seen %v, want promotional, 4.5, zero", g.Kind, g.Remaining(), g.FirstSeen)
	}
	st := o1.Parts[billing.PartGrants]
	if st.Source != "config:promotions" || !st.AsOf.Equal(ts(t, "2026-01-01T00:00:00Z")) {
		t.Errorf("grants status: got %+v, want config:promotions as of 2026-01-01", st)
	}
}

// TestDocExample decodes the example in docs/history-format.md, so that the
// documentation cannot drift from the code.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/history-format.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no ```json block in docs/history-format.md")
	}
	f, err := Decode(strings.NewReader(example))
	if err != nil {
		t.Fatalf("decode the documented example: %v", err)
	}
	if got := len(f.Observations); got != 2 {
		t.Fatalf("observations: got %d, want 2", got)
	}
	o0, o1 := f.Observations[0], f.Observations[1]
	if st, _ := o0.Status(billing.PartCharges); st.Unavailable == "" || o1.Has(billing.PartCosts) || !o1.Has(billing.PartCharges) {
		t.Errorf("parts: got charges at 0 %+v, costs read at 1 %v, want charges unavailable at 0 and costs not read at 1",
			st, o1.Has(billing.PartCosts))
	}
}

func TestAmountForms(t *testing.T) {
	tests := []struct {
		in   string // the JSON value of a balance's "shown"
		want string
	}{
		{`"12.50"`, "12.5"},
		{`12.50`, "12.5"},
		{`" 7 "`, "7"},
		{`1e2`, "100"},
		{`"-0.40"`, "-0.4"},
		{`0.1`, "0.1"},
		{`123456789012345678901234567890.000000000000000000000000001`, "123456789012345678901234567890.000000000000000000000000001"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			data := `{"at":"2026-01-01T00:00:00Z","source":"s","balance":{"shown":` + tt.in + `}}`
			o, err := DecodeObservation([]byte(data), billing.Account{Name: "a", Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			want := decimal.RequireFromString(tt.want)
			if got := o.Balance.Shown; !got.Amount().Equal(want) || got.Currency() != "USD" {
				t.Errorf("got %s %s, want %s USD", got.Exact(), got.Currency(), want)
			}
		})
	}
}

// TestDecodeBad decodes every testdata/bad/NAME.json and checks the error
// against NAME.err; go test -update rewrites the .err files.
func TestDecodeBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/bad/*.json files")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, decodeErr := Decode(bytes.NewReader(data))
			if decodeErr == nil {
				t.Fatalf("got no error, want one")
			}
			if f != nil {
				t.Errorf("got a file with the error, want nil")
			}
			checkErrorShape(t, decodeErr)
			got := decodeErr.Error() + "\n"
			errFile := strings.TrimSuffix(file, ".json") + ".err"
			if *update {
				if err := os.WriteFile(errFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(errFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got error\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// checkErrorShape checks the house style of every line of a decode error:
// lower case, no trailing punctuation, at most 21 lines.
func checkErrorShape(t *testing.T, err error) {
	t.Helper()
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > maxProblems+1 {
		t.Errorf("error lines: got %d, want at most %d", len(lines), maxProblems+1)
	}
	for _, l := range lines {
		if l == "" || strings.ContainsAny(l[len(l)-1:], ".!") {
			t.Errorf("error line %q: want non-empty, without trailing punctuation", l)
		}
		msg := l
		if i := strings.Index(l, ": "); i >= 0 {
			msg = l[i+2:]
		}
		if r, _ := utf8.DecodeRuneInString(msg); unicode.IsUpper(r) {
			t.Errorf("error line %q: want a lower-case message", l)
		}
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		return
	}
	var fe *billing.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("error %T: want *SyntaxError or joined *billing.FieldError", err)
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	tests := []struct {
		in                string
		line, col, offset int
		msg               string
	}{
		{"", 1, 1, 0, "unexpected end of JSON input"},
		{"{\n  \"format\": x", 2, 13, 14, "invalid character 'x' looking for beginning of value"},
		{"{\"a\": \"é\",\n}", 2, 1, 12, "invalid character '}' looking for beginning of object key string"},
		{"{\"ééé\" 1}", 1, 8, 10, "invalid character '1' after object key"},
		{"[1 2]", 1, 4, 3, "invalid character '2' after array element"},
		{"{} {}", 1, 4, 3, "invalid character '{' after top-level value"},
		{"\"\\x\"", 1, 3, 2, "invalid character 'x' in string escape code"},
		{"\"a\xffb\"", 1, 3, 2, "invalid UTF-8 in string literal"},
		{"-", 1, 2, 1, "unexpected end of JSON input"},
		{"1.e5", 1, 3, 2, "invalid character 'e' after decimal point in numeric literal"},
		{"nul", 1, 4, 3, "unexpected end of JSON input"},
		{"trux", 1, 4, 3, "invalid character 'x' in literal true (expecting 'e')"},
		{strings.Repeat("[", maxDepth+1), 1, maxDepth + 1, maxDepth, "exceeded max depth"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			got := fmt.Sprintf("%d:%d@%d %s", se.Line, se.Column, se.Offset, se.Msg)
			want := fmt.Sprintf("%d:%d@%d %s", tt.line, tt.col, tt.offset, tt.msg)
			if got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

// TestRoundTrip encodes every good file, checks the encoding against its
// golden file, and decodes it back to equal values.
func TestRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f := decodeFile(t, file)
			var buf bytes.Buffer
			if err := Encode(&buf, f); err != nil {
				t.Fatal(err)
			}
			enc := buf.String()
			golden := file + ".golden"
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want, err := os.ReadFile(golden); err != nil {
				t.Fatal(err)
			} else if enc != string(want) {
				t.Errorf("got encoding\n%s\nwant\n%s", enc, want)
			}
			again, err := Decode(&buf)
			if err != nil {
				t.Fatalf("decode the encoding: %v\n%s", err, enc)
			}
			for _, d := range diffFile(again, f) {
				t.Error(d)
			}
			var buf2 bytes.Buffer
			if err := Encode(&buf2, again); err != nil {
				t.Fatal(err)
			}
			if buf2.String() != enc {
				t.Errorf("got a second encoding that differs from the first:\n%s\nwant\n%s", buf2.String(), enc)
			}
		})
	}
}

func TestObservationRoundTrip(t *testing.T) {
	f := decodeFile(t, "testdata/good/example.json")
	for i, o := range f.Observations {
		data, err := EncodeObservation(o)
		if err != nil {
			t.Fatalf("observations[%d]: %v", i, err)
		}
		if bytes.ContainsAny(data, "\n") {
			t.Errorf("observations[%d]: got %s, want compact JSON", i, data)
		}
		got, err := DecodeObservation(data, f.Account)
		if err != nil {
			t.Fatalf("observations[%d]: %v\n%s", i, err, data)
		}
		for _, d := range diffObservation(fmt.Sprintf("observations[%d]", i), got, o) {
			t.Error(d)
		}
	}
}

func TestDecodeObservationErrors(t *testing.T) {
	acct := billing.Account{Name: "a", Currency: "USD"}
	tests := []struct {
		in, want string
	}{
		{`[]`, "want an object, got array"},
		{`{"at":"2026-01-01T00:00:00Z","source":"s","grants":[{"id":"g","amount":"x","used":0,"effective_at":"2026-01-01T00:00:00Z"}]}`,
			`grants[0].amount: invalid amount "x"`},
		{`{"at":"2026-01-01T00:00:00Z","source":"s","charges":[{"id":"c","paid_at":"2026-01-01T00:00:00Z","amount":1,"currency":"EUR","origin":"receipt"}]}`,
			`charges[0].currency: "EUR" differs from the account currency "USD"`},
		{`{"at":"2026-01-01T00:00:00Z","source":"s","balance":{"shown":1}} x`,
			`line 1, column 66: invalid character 'x' after top-level value`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := DecodeObservation([]byte(tt.in), acct)
			if err == nil {
				t.Fatalf("got no error, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got %s, want %s", err, tt.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	at := ts(t, "2026-01-01T00:00:00Z")
	ok := billing.Observation{
		At:      at,
		Parts:   map[billing.Part]billing.PartStatus{billing.PartBalance: {Source: "s", AsOf: at}},
		Balance: billing.Balance{Shown: money(t, "1", "USD")},
	}
	acct := billing.Account{Name: "a", Provider: "p", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst}
	tests := []struct {
		name string
		edit func(o *billing.Observation)
		want string
	}{
		{"no parts", func(o *billing.Observation) { o.Parts = nil },
			"encode history: observations[0].parts: an observation needs at least one part"},
		{"unknown part", func(o *billing.Observation) { o.Parts["invoices"] = billing.PartStatus{Source: "s"} },
			`encode history: observations[0].parts: unknown part "invoices": want balance, grants, charges or costs`},
		{"no source", func(o *billing.Observation) { o.Parts[billing.PartBalance] = billing.PartStatus{AsOf: at} },
			"encode history: observations[0].parts.balance: has no source"},
		{"other currency", func(o *billing.Observation) { o.Balance.Shown = money(t, "2.5", "EUR") },
			"encode history: observations[0].balance.shown: 2.5 is in EUR, not the account currency USD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			o.Parts = map[billing.Part]billing.PartStatus{billing.PartBalance: ok.Parts[billing.PartBalance]}
			tt.edit(&o)
			err := Encode(&bytes.Buffer{}, &File{Account: acct, Observations: []billing.Observation{o}})
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
	if err := Encode(&bytes.Buffer{}, &File{Account: acct, Observations: []billing.Observation{ok}}); err != nil {
		t.Errorf("a valid file: got %v, want no error", err)
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0.00"},
		{"10", "10.00"},
		{"10.5", "10.50"},
		{"10.50", "10.50"},
		{"0.125", "0.125"},
		{"0.12500", "0.125"},
		{"-3.2", "-3.20"},
		{"1e3", "1000.00"},
		{"1.5e-4", "0.00015"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := formatAmount(decimal.RequireFromString(tt.in)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestPartsCovered fails when billing gains a part that version 1 of the
// format cannot hold: the format, its docs and the encoder need it first.
func TestPartsCovered(t *testing.T) {
	if got := len(billing.Parts); got != numParts {
		t.Errorf("billing.Parts: got %d parts, want %d (the parts the history format knows)", got, numParts)
	}
	var s wireSources
	for _, p := range billing.Parts {
		before := s
		s.set(p, &wireSource{})
		if s == before {
			t.Errorf("wireSources.set(%s): got no field set, want one", p)
		}
	}
}

func TestProblemsCap(t *testing.T) {
	var p problems
	for i := range 23 {
		p.add(fmt.Sprintf("f%d", i), "bad")
	}
	lines := strings.Split(p.err().Error(), "\n")
	if len(lines) != 21 || lines[20] != "… and 3 more problems" {
		t.Errorf("got %d lines ending %q, want 21 ending %q", len(lines), lines[len(lines)-1], "… and 3 more problems")
	}
}

// diffFile compares two files, amounts with Equal and times with Equal, and
// describes each difference as "PATH: got X, want Y".
func diffFile(got, want *File) []string {
	var diffs []string
	add := func(path string, g, w any) { diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", path, g, w)) }
	ga, wa := got.Account, want.Account
	if ga.Name != wa.Name || ga.Provider != wa.Provider || ga.Currency != wa.Currency || ga.Drawdown != wa.Drawdown {
		add("account", fmt.Sprint(ga.Name, ga.Provider, ga.Currency, ga.Drawdown), fmt.Sprint(wa.Name, wa.Provider, wa.Currency, wa.Drawdown))
	}
	gr, wr := ga.AutoRecharge, wa.AutoRecharge
	if gr.Enabled != wr.Enabled || gr.Mode != wr.Mode || gr.HasMonthlyLimit != wr.HasMonthlyLimit {
		add("account.auto_recharge", fmt.Sprint(gr.Enabled, gr.Mode, gr.HasMonthlyLimit), fmt.Sprint(wr.Enabled, wr.Mode, wr.HasMonthlyLimit))
	}
	diffs = append(diffs, diffMoney("account.auto_recharge.threshold", gr.Threshold, wr.Threshold)...)
	diffs = append(diffs, diffMoney("account.auto_recharge.amount", gr.Amount, wr.Amount)...)
	diffs = append(diffs, diffMoney("account.auto_recharge.target", gr.Target, wr.Target)...)
	diffs = append(diffs, diffMoney("account.auto_recharge.monthly_limit", gr.MonthlyLimit, wr.MonthlyLimit)...)
	if len(got.Observations) != len(want.Observations) {
		add("len(observations)", len(got.Observations), len(want.Observations))
		return diffs
	}
	for i := range got.Observations {
		diffs = append(diffs, diffObservation(fmt.Sprintf("observations[%d]", i), got.Observations[i], want.Observations[i])...)
	}
	return diffs
}

func diffMoney(path string, got, want billing.Money) []string {
	if got.Currency() != want.Currency() || !got.Amount().Equal(want.Amount()) {
		return []string{fmt.Sprintf("%s: got %s %s, want %s %s", path, got.Exact(), got.Currency(), want.Exact(), want.Currency())}
	}
	return nil
}

func diffTime(path string, got, want time.Time) []string {
	if !got.Equal(want) {
		return []string{fmt.Sprintf("%s: got %s, want %s", path, fmtTime(got), fmtTime(want))}
	}
	return nil
}

func diffObservation(path string, got, want billing.Observation) []string {
	var diffs []string
	add := func(p string, g, w any) { diffs = append(diffs, fmt.Sprintf("%s%s: got %v, want %v", path, p, g, w)) }
	if got.Account != want.Account {
		add(".account", got.Account, want.Account)
	}
	diffs = append(diffs, diffTime(path+".at", got.At, want.At)...)
	if len(got.Parts) != len(want.Parts) {
		add(".parts", got.Parts, want.Parts)
	}
	for p, w := range want.Parts {
		g, ok := got.Parts[p]
		if !ok {
			add(".parts."+string(p), "absent", w)
			continue
		}
		if g.Source != w.Source || g.Unavailable != w.Unavailable {
			add(".parts."+string(p), fmt.Sprintf("%q %q", g.Source, g.Unavailable), fmt.Sprintf("%q %q", w.Source, w.Unavailable))
		}
		diffs = append(diffs, diffTime(path+".parts."+string(p)+".as_of", g.AsOf, w.AsOf)...)
	}
	gb, wb := got.Balance, want.Balance
	if gb.HasSplit != wb.HasSplit {
		add(".balance.has_split", gb.HasSplit, wb.HasSplit)
	}
	diffs = append(diffs, diffMoney(path+".balance.shown", gb.Shown, wb.Shown)...)
	diffs = append(diffs, diffMoney(path+".balance.granted", gb.Granted, wb.Granted)...)
	diffs = append(diffs, diffMoney(path+".balance.paid", gb.Paid, wb.Paid)...)

	if len(got.Grants) != len(want.Grants) {
		add(".grants", len(got.Grants), len(want.Grants))
	} else {
		for i, g := range got.Grants {
			w := want.Grants[i]
			p := fmt.Sprintf("%s.grants[%d]", path, i)
			if g.ID != w.ID || g.Kind != w.Kind {
				add(p[len(path):], g.ID+" "+string(g.Kind), w.ID+" "+string(w.Kind))
			}
			diffs = append(diffs, diffMoney(p+".amount", g.Amount, w.Amount)...)
			diffs = append(diffs, diffMoney(p+".used", g.Used, w.Used)...)
			diffs = append(diffs, diffTime(p+".effective_at", g.EffectiveAt, w.EffectiveAt)...)
			diffs = append(diffs, diffTime(p+".expires_at", g.ExpiresAt, w.ExpiresAt)...)
			diffs = append(diffs, diffTime(p+".first_seen", g.FirstSeen, w.FirstSeen)...)
		}
	}
	if len(got.Charges) != len(want.Charges) {
		add(".charges", len(got.Charges), len(want.Charges))
	} else {
		for i, c := range got.Charges {
			w := want.Charges[i]
			p := fmt.Sprintf("%s.charges[%d]", path, i)
			if c.ID != w.ID || c.Origin != w.Origin || c.Trigger != w.Trigger {
				add(p[len(path):], fmt.Sprint(c.ID, c.Origin, c.Trigger), fmt.Sprint(w.ID, w.Origin, w.Trigger))
			}
			diffs = append(diffs, diffTime(p+".paid_at", c.PaidAt, w.PaidAt)...)
			diffs = append(diffs, diffMoney(p+".amount", c.Amount, w.Amount)...)
			diffs = append(diffs, diffMoney(p+".tax", c.Tax, w.Tax)...)
		}
	}
	if len(got.Costs) != len(want.Costs) {
		add(".costs", len(got.Costs), len(want.Costs))
	} else {
		for i, c := range got.Costs {
			w := want.Costs[i]
			p := fmt.Sprintf("%s.costs[%d]", path, i)
			if c.Settled != w.Settled {
				add(p[len(path):]+".settled", c.Settled, w.Settled)
			}
			diffs = append(diffs, diffTime(p+".start", c.Start, w.Start)...)
			diffs = append(diffs, diffTime(p+".end", c.End, w.End)...)
			diffs = append(diffs, diffMoney(p+".amount", c.Amount, w.Amount)...)
		}
	}
	return diffs
}

func TestKindGuessRoundTrips(t *testing.T) {
	const doc = `{"format": "guardd-history", "version": 1,
  "account": {"name": "a", "provider": "openai", "currency": "USD", "drawdown": "expiring-first", "auto_recharge": {"enabled": false}},
  "observations": [{"at": "2026-10-01T00:00:00Z", "source": "s",
    "grants": [{"id": "g", "amount": "5", "used": "0", "effective_at": "2026-09-30T23:59:59Z", "kind": "purchased",
                "kind_guess": "expires one year after a month-end effective_at, like purchases"}]}]}`
	f, err := Decode(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	g := f.Observations[0].Grants[0]
	if g.Kind != billing.GrantPurchased || !strings.HasPrefix(g.KindGuess, "expires one year") {
		t.Fatalf("got kind %q guess %q, want purchased with the reason", g.Kind, g.KindGuess)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"kind_guess": "expires one year`) {
		t.Errorf("encoding lost kind_guess:\n%s", buf.String())
	}
	if _, err := Decode(strings.NewReader(strings.Replace(doc, `"kind_guess": "expires`, `"kind_guess": "", "x": "`, 1))); err == nil {
		t.Error("empty kind_guess: got no error")
	}
}

func TestMonthlyCap(t *testing.T) {
	doc := func(cap string) string {
		return `{"format": "guardd-history", "version": 1,
  "account": {"name": "a", "provider": "openai", "currency": "USD", "drawdown": "expiring-first",
              "auto_recharge": {"enabled": false}` + cap + `},
  "observations": [{"at": "2026-10-01T00:00:00Z", "source": "s", "balance": {"shown": "1"}}]}`
	}
	f, err := Decode(strings.NewReader(doc(`, "monthly_cap": "100.00"`)))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Account.HasMonthlyCap || f.Account.MonthlyCap.String() != "100.00 USD" {
		t.Fatalf("got cap %v (set %v), want 100.00 USD", f.Account.MonthlyCap, f.Account.HasMonthlyCap)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"monthly_cap": "100.00"`) {
		t.Errorf("encoding lost monthly_cap:\n%s", buf.String())
	}
	_, err = Decode(strings.NewReader(doc(`, "monthly_cap": "0"`)))
	if want := "account.monthly_cap: must be greater than 0 (got 0)"; err == nil || err.Error() != want {
		t.Errorf("zero cap: got %v, want %q", err, want)
	}
}

// TestObservationDecoderReuse decodes many observations with one decoder, a
// bad one among them: each result matches a fresh decode, and an error in
// one leaves nothing behind for the next.
func TestObservationDecoderReuse(t *testing.T) {
	f := decodeFile(t, "testdata/good/example.json")
	dec := NewObservationDecoder(f.Account)
	for i, o := range f.Observations {
		data, err := EncodeObservation(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dec.Decode([]byte(`{"at": "yesterday"}`)); err == nil {
			t.Fatal("a bad observation decoded")
		}
		got, err := dec.Decode(data)
		if err != nil {
			t.Fatalf("observation %d after a bad one: %v", i, err)
		}
		want, _ := DecodeObservation(data, f.Account)
		a, _ := EncodeObservation(got)
		b, _ := EncodeObservation(want)
		if string(a) != string(b) {
			t.Errorf("observation %d: reused decoder gave\n%s\nfresh decoder gave\n%s", i, a, b)
		}
	}
}

// TestBalanceAnchorAndDerived: an account's balance anchor and an
// observation's derived balance are read, written back and checked.
func TestBalanceAnchorAndDerived(t *testing.T) {
	doc := func(anchor, derived string) string {
		return `{"format": "guardd-history", "version": 1,
  "account": {"name": "a", "provider": "anthropic", "currency": "USD", "drawdown": "expiring-first",
              "auto_recharge": {"enabled": false}` + anchor + `},
  "observations": [{"at": "2026-10-01T00:00:00Z", "source": "s", "costs": []` + derived + `}]}`
	}
	f, err := Decode(strings.NewReader(doc(`, "balance_anchor": {"amount": "12.50", "at": "2026-09-30T10:00:00Z"}`,
		`, "derived": {"effective": "9.25", "anchor": {"amount": "12.50", "at": "2026-09-30T10:00:00Z"}}`)))
	if err != nil {
		t.Fatal(err)
	}
	a, d := f.Account, f.Observations[0].Derived
	at := time.Date(2026, 9, 30, 10, 0, 0, 0, time.UTC)
	if !a.HasAnchor || a.Anchor.Amount.String() != "12.50 USD" || !a.Anchor.At.Equal(at) {
		t.Errorf("anchor: got %+v (set %v), want 12.50 USD at %s", a.Anchor, a.HasAnchor, at)
	}
	if d == nil || d.Effective.String() != "9.25 USD" || !d.Anchor.At.Equal(at) || d.Anchor.Amount.String() != "12.50 USD" {
		t.Fatalf("derived: got %+v, want 9.25 USD from 12.50 USD at %s", d, at)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(&buf)
	if err != nil {
		t.Fatalf("decode what Encode wrote: %v", err)
	}
	if !back.Account.HasAnchor || back.Observations[0].Derived == nil || back.Observations[0].Derived.Effective.String() != d.Effective.String() {
		t.Errorf("round trip lost the anchor or the derived balance: %+v", back)
	}
	for _, tc := range []struct{ anchor, derived, want string }{
		{`, "balance_anchor": {"amount": "12.50"}`, "", `account.balance_anchor: missing required field "at"`},
		{`, "balance_anchor": {"amount": "x", "at": "2026-09-30T10:00:00Z"}`, "", `account.balance_anchor.amount: invalid amount "x"`},
		{"", `, "derived": {"effective": "1"}`, `observations[0].derived: missing required field "anchor"`},
	} {
		_, err := Decode(strings.NewReader(doc(tc.anchor, tc.derived)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", err, tc.want)
		}
	}
}

// TestHugeValuesBoundedInErrors: whatever value a file holds where a
// problem is, the error quotes at most billing.MaxQuoted characters of it,
// then an ellipsis and its length; a 50 MB unknown key is not quoted whole.
func TestHugeValuesBoundedInErrors(t *testing.T) {
	base, err := os.ReadFile("testdata/good/minimal.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.TrimSpace(string(base))
	obs := `{"at":"2026-01-01T00:00:00Z","source":"s","unavailable":{"balance":"no key"}}`
	// The 50 MB key once; 1 MB values elsewhere keep the test quick.
	for _, tc := range []struct {
		name, old, new string
		size           int
	}{
		{"unknown top-level key of 50 MB", `{"format"`, `{"%s":1,"format"`, 50 << 20},
		{"unknown top-level key", `{"format"`, `{"%s":1,"format"`, 1 << 20},
		{"unknown observation key", obs, `{"%s":1,` + obs[1:], 1 << 20},
		{"unknown part", `"unavailable":{"balance"`, `"unavailable":{"%s":"x","balance"`, 1 << 20},
		{"format", `"guardd-history"`, `"%s"`, 1 << 20},
		{"version", `"version":1`, `"version":1%s`, 1 << 20},
		{"currency", `"EUR"`, `"%s"`, 1 << 20},
		{"drawdown", `"expiring-first"`, `"%s"`, 1 << 20},
		{"time", `"2026-01-01T00:00:00Z"`, `"%s"`, 1 << 20},
		{"amount", `"unavailable":{"balance":"no key"}`, `"balance":{"shown":1%s}`, 1 << 20},
		{"reason of a part also read", `"unavailable":{"balance":"no key"}`, `"balance":{"shown":"1"},"unavailable":{"balance":"%s"}`, 1 << 20},
		{"duplicate grant id", `"unavailable":{"balance":"no key"}`,
			`"grants":[{"id":"%[1]s","amount":"1","used":"0","effective_at":"2026-01-01T00:00:00Z"},{"id":"%[1]s","amount":"1","used":"0","effective_at":"2026-01-01T00:00:00Z"}]`, 1 << 20},
		{"charge currency", `"unavailable":{"balance":"no key"}`,
			`"charges":[{"id":"c","paid_at":"2026-01-01T00:00:00Z","amount":"1","currency":"%s"}]`, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(doc, tc.old) {
				t.Fatalf("%q is not in minimal.json", tc.old)
			}
			// Digits, so that the value is a valid number where one is
			// wanted and only its size is wrong.
			value := strings.Repeat("9", tc.size)
			if strings.HasPrefix(tc.new, `"version":1`) || strings.Contains(tc.new, `"shown":1`) {
				value = value[1:] // the 1 before it
			}
			_, err := Decode(strings.NewReader(strings.Replace(doc, tc.old, fmt.Sprintf(tc.new, value), 1)))
			if err == nil {
				t.Fatal("got no error, want one")
			}
			msg := err.Error()
			if len(msg) > 1000 {
				t.Fatalf("error of %d bytes, want a short one; it starts %.200q", len(msg), msg)
			}
			if want := fmt.Sprintf("… (%d bytes)", tc.size); !strings.Contains(msg, want) {
				t.Errorf("error %q: want the value cut, with %q", msg, want)
			}
		})
	}
}
