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

// rig is Dovecot with a mailbox, a fake Anthropic and a config that ties
// an account to the mailbox's receipts.
type rig struct {
	t   *testing.T
	dc  *dovecottest.Server
	an  *pollertest.Anthropic
	now time.Time
	dir string
	db  string
	cfg string
	env map[string]string
}

func newRig(t *testing.T, schedule string) *rig {
	r := &rig{t: t, dc: dovecottest.Start(t), an: pollertest.NewAnthropic(t), now: time.Now().UTC(), dir: t.TempDir()}
	r.an.SetCost(r.now, "500")
	r.db = filepath.Join(r.dir, "state.db")
	r.env = map[string]string{"IMAP_PASSWORD": dovecottest.Password, "ANTHROPIC_ADMIN_KEY": r.an.AdminKey}
	r.writeConf(schedule, r.now.AddDate(0, 0, -7).Format("2006-01-02"))
	return r
}

func (r *rig) writeConf(schedule, since string) {
	r.cfg = filepath.Join(r.dir, "guardd.yaml")
	text := fmt.Sprintf(`schedule: %q
log: {level: info, format: json}
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
`, schedule, r.db, r.dc.Port, dovecottest.User, since, r.now.Add(-6*time.Hour).Format(time.RFC3339), r.an.URL())
	if err := os.WriteFile(r.cfg, []byte(text), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) check(env map[string]string) {
	r.t.Helper()
	if _, errOut, err := runCmd(r.t, env, "check", "--config", r.cfg); err != nil {
		r.t.Fatalf("check: %v\n%s", err, errOut)
	}
}

// checkPartly runs guardd check once, expecting a part of the account
// unavailable: exit status 3.
func (r *rig) checkPartly(env map[string]string) {
	r.t.Helper()
	if _, errOut, err := runCmd(r.t, env, "check", "--config", r.cfg); exitCode(err) != exitPartlyRead {
		r.t.Fatalf("check: got %v, want a part unavailable (exit status 3)\n%s", err, errOut)
	}
}

// stored returns the charges the account's stored observations carried,
// and the last observation's charges part.
func (r *rig) stored() (charges []string, last billing.PartStatus) {
	r.t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, r.db, store.Options{})
	if err != nil {
		r.t.Fatal(err)
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
		r.t.Fatal(err)
	}
	return charges, last
}

// deliver puts the nth receipt into the mailbox.
func (r *rig) deliver(n int) {
	r.dc.Deliver(r.t, []byte(anthropicReceiptEML(n, r.now.Add(-time.Duration(4-n)*time.Hour))), time.Time{})
}

// noneSeen fails the test when a message in the mailbox is marked seen.
func (r *rig) noneSeen() {
	for _, f := range r.dc.Files(r.t) {
		if i := strings.Index(f, ":2,"); i >= 0 && strings.Contains(f[i:], "S") {
			r.t.Errorf("message %s is marked seen", f)
		}
	}
}

// TestReceiptsFromDovecot runs guardd check, process after process, against
// a real IMAP server (Dovecot on 127.0.0.1) while receipts arrive in its
// mailbox: each receipt becomes one charge; the cursor survives every new
// process; a rescan files nothing twice; no message is ever marked seen;
// a refused login and a server that is gone make the charges unavailable,
// with the reason, never "no charges".
func TestReceiptsFromDovecot(t *testing.T) {
	t.Parallel()
	r := newRig(t, "@hourly")
	env, check, stored, deliver := r.env, r.check, r.stored, r.deliver
	now, dc, an := r.now, r.dc, r.an
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
	r.writeConf("@hourly", now.AddDate(0, 0, -30).Format("2006-01-02"))
	check(env)
	if got, last := stored(); strings.Join(got, " ") != "2001-0001-0001 2001-0001-0002" || last.Unavailable != "" {
		t.Fatalf("after a rescan: got charges %v (part %+v), want no duplicate", got, last)
	}
	r.noneSeen()

	// A refused login: the charges part is unavailable, with the reason.
	bad := map[string]string{"IMAP_PASSWORD": "wrong", "ANTHROPIC_ADMIN_KEY": an.AdminKey}
	r.checkPartly(bad)
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
	r.checkPartly(env)
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

// TestReceiptsWhileRunning delivers receipts into Dovecot while guardd run
// polls every second: each is read once, as it arrives, and stays unread
// in the mailbox.
func TestReceiptsWhileRunning(t *testing.T) {
	t.Parallel()
	r := newRig(t, "@every 1s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	getenv := func(k string) (string, bool) { v, ok := r.env[k]; return v, ok }
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", r.cfg}, proc{getenv: getenv, stdout: &out, stderr: &errOut})
	}()
	logLine(t, &errOut, "cycle done")
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, _ := r.stored()
			if strings.Join(got, " ") == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("charges: got %v, want %s\n%s", got, want, errOut.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for n := 1; n <= 3; n++ {
		r.deliver(n)
		var want []string
		for i := 1; i <= n; i++ {
			want = append(want, fmt.Sprintf("2001-0001-%04d", i))
		}
		waitFor(strings.Join(want, " "))
	}
	// More cycles read nothing again.
	time.Sleep(2500 * time.Millisecond)
	waitFor("2001-0001-0001 2001-0001-0002 2001-0001-0003")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
	r.noneSeen()
}
