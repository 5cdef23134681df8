package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/mailbox/dovecottest"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/store"
)

// TestReceiptsFromDovecot runs guardd check, process after process, against
// a real IMAP server (Dovecot on 127.0.0.1) while receipts arrive in its
// mailbox: each receipt becomes one charge; the cursor survives every new
// process; a rescan files nothing twice; no message is ever marked seen;
// a refused login and a server that is gone make the charges unavailable,
// with the reason, never "no charges".
func TestReceiptsFromDovecot(t *testing.T) {
	ctx := context.Background()
	dc := dovecottest.Start(t)
	an := pollertest.NewAnthropic(t)
	now := time.Now().UTC()
	an.SetCost(now, "500")
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	writeConf := func(since string) string {
		path := filepath.Join(dir, "guardd.yaml")
		text := fmt.Sprintf(`log: {level: error, format: json}
state: {path: %q}
http: {addr: "off"}
mailboxes:
  - {name: billing, type: imap, host: 127.0.0.1, port: %d, tls: none, username: %s, password_env: IMAP_PASSWORD, since: %q}
accounts:
  - name: acme
    provider: anthropic
    currency: USD
    drawdown: expiring-first
    auto_recharge: {enabled: true, threshold: "5.00", mode: add, amount: "10.00"}
    balance_anchor: {amount: "20.00", at: %q}
    receipts: {mailbox: billing}
    source: {type: anthropic, base_url: %q, admin_key_env: ANTHROPIC_ADMIN_KEY}
`, db, dc.Port, dovecottest.User, since, now.Add(-6*time.Hour).Format(time.RFC3339), an.URL())
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cfg := writeConf(now.AddDate(0, 0, -7).Format("2006-01-02"))
	env := map[string]string{"IMAP_PASSWORD": dovecottest.Password, "ANTHROPIC_ADMIN_KEY": an.AdminKey}
	check := func(env map[string]string) {
		t.Helper()
		if _, errOut, err := runCmd(t, env, "check", "--config", cfg); err != nil {
			t.Fatalf("check: %v\n%s", err, errOut)
		}
	}
	// What the store holds: the charges observations carried, and the last
	// observation's charges part.
	stored := func() (charges []string, last billing.PartStatus) {
		t.Helper()
		st, err := store.Open(ctx, db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		a := billing.Account{Name: "acme", Provider: "anthropic", Currency: "USD", Drawdown: billing.DrawdownExpiringFirst}
		if err := st.View(ctx, func(tx *store.Tx) error {
			obs, err := tx.Observations(a, time.Time{})
			for _, o := range obs {
				for _, c := range o.Charges {
					charges = append(charges, c.ID)
				}
				last = o.Parts[billing.PartCharges]
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return charges, last
	}
	deliver := func(n int) {
		dc.Deliver(t, []byte(anthropicReceiptEML(n, now.Add(-time.Duration(4-n)*time.Hour))), time.Time{})
	}

	deliver(1)
	check(env)
	if got, last := stored(); strings.Join(got, " ") != "2001-0001-0001" || last.Unavailable != "" || last.Source != "receipts:billing" {
		t.Fatalf("after the first receipt: got charges %v, part %+v; want one charge read from receipts:billing", got, last)
	}
	check(env) // a new process: the cursor holds, nothing is read again
	deliver(2)
	check(env)
	if got, _ := stored(); strings.Join(got, " ") != "2001-0001-0001 2001-0001-0002" {
		t.Fatalf("after a restart and a second receipt: got charges %v, want each once", got)
	}

	// A changed since-date makes the reader start over: every receipt is
	// read again, none is filed twice.
	cfg = writeConf(now.AddDate(0, 0, -30).Format("2006-01-02"))
	check(env)
	if got, last := stored(); strings.Join(got, " ") != "2001-0001-0001 2001-0001-0002" || last.Unavailable != "" {
		t.Fatalf("after a rescan: got charges %v (part %+v), want no duplicate", got, last)
	}
	for _, f := range dc.Files(t) {
		if i := strings.Index(f, ":2,"); i >= 0 && strings.Contains(f[i:], "S") {
			t.Errorf("message %s is marked seen", f)
		}
	}

	// A refused login: the charges part is unavailable, with the reason.
	bad := map[string]string{"IMAP_PASSWORD": "wrong", "ANTHROPIC_ADMIN_KEY": an.AdminKey}
	check(bad)
	if _, last := stored(); !strings.Contains(last.Unavailable, "mailbox billing:") {
		t.Errorf("with a refused login: got part %+v, want it unavailable with the mailbox's reason", last)
	}
	// A receipt delivered meanwhile is not lost: read once the mailbox is
	// back.
	deliver(3)
	check(env)
	if got, last := stored(); !strings.HasSuffix(strings.Join(got, " "), "2001-0001-0003") || last.Unavailable != "" {
		t.Errorf("after the login works again: got charges %v, part %+v", got, last)
	}
	// The server gone: unavailable, never "no charges".
	dc.Kill()
	check(env)
	if _, last := stored(); !strings.Contains(last.Unavailable, "mailbox billing:") {
		t.Errorf("with the server gone: got part %+v, want it unavailable", last)
	}
}

// anthropicReceiptEML is Anthropic's receipt for an auto-recharge of $10.00
// paid at paid.
func anthropicReceiptEML(n int, paid time.Time) string {
	no := fmt.Sprintf("2001-0001-%04d", n)
	return strings.ReplaceAll(fmt.Sprintf(`From: "Anthropic, PBC" <invoice+statements@mail.anthropic.com>
To: billing@example.com
Subject: Your receipt from Anthropic, PBC #%[1]s
Date: %[2]s
Message-ID: <r%[3]d@mail.example.com>
Content-Type: text/plain; charset=utf-8

Receipt from Anthropic, PBC $10.00 Paid %[4]s Receipt number %[1]s Invoice number ABCD1234-%[3]04d Payment method - 4242

Receipt #%[1]s Auto-recharge credits Qty 1 $10.00 Subtotal $10.00 Total excluding tax $10.00 Total $10.00 Amount paid $10.00
`, no, paid.Format(time.RFC1123Z), n, paid.Format("January 2, 2006")), "\n", "\r\n")
}
