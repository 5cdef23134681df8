package guard_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/inbox"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/mailbox/folder"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/poller/anthropic"
	"github.com/guardd/guardd/internal/poller/openai"
	"github.com/guardd/guardd/internal/poller/pollertest"
	"github.com/guardd/guardd/internal/rules"
	"github.com/guardd/guardd/internal/secret"
	"github.com/guardd/guardd/internal/store"
)

// anthropicReceipt is Anthropic's receipt for an auto-recharge of $10.00,
// paid at paid, as its mail would bring it.
func anthropicReceipt(n int, paid time.Time) string {
	no := fmt.Sprintf("2001-0001-%04d", n)
	return fmt.Sprintf(`From: "Anthropic, PBC" <invoice+statements@mail.anthropic.com>
To: billing@example.com
Subject: Your receipt from Anthropic, PBC #%[1]s
Date: %[2]s
Message-ID: <r%[3]d@mail.example.com>
Content-Type: text/plain; charset=utf-8

Receipt from Anthropic, PBC $10.00 Paid %[4]s Receipt number %[1]s Invoice number ABCD1234-%[3]04d Payment method - 4242

Receipt #%[1]s Auto-recharge credits Qty 1 $10.00 Subtotal $10.00 Total excluding tax $10.00 Total $10.00 Amount paid $10.00
`, no, paid.Format(time.RFC1123Z), n, paid.Format("January 2, 2006"))
}

// openAINotice is OpenAI's notice that $10.00 was charged at paid.
func openAINotice(n int, paid time.Time) string {
	return fmt.Sprintf(`From: OpenAI <noreply@tm.openai.com>
To: dev@example.com
Subject: Your OpenAI API account has been funded
Date: %s
Message-ID: <n%d@tm.openai.example>
Content-Type: text/plain; charset=utf-8

Hi example-org, We charged $10.00 to your credit card ending in 4242 to fund your OpenAI API credit balance.
`, paid.Format(time.RFC1123Z), n)
}

// TestReceiptsOnlyHourlyLoop is the reported loop (auto-recharge "below $5"
// charging $10 every hour) at a provider whose API shows no balance and
// lists no charges: Anthropic (costs, receipts and an anchor), and OpenAI
// with an admin key only. recharge-burst fires at the poll that reads the
// third receipt, and the message carries the derived balance and runway.
func TestReceiptsOnlyHourlyLoop(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		provider string
		source   func(t *testing.T, clock func() time.Time, spent func(n int)) (poller.Source, func(n int))
		receipt  func(n int, paid time.Time) string
	}{
		{"anthropic", func(t *testing.T, clock func() time.Time, _ func(int)) (poller.Source, func(int)) {
			f := pollertest.NewAnthropic(t)
			f.SetClock(clock)
			src, err := anthropic.New(anthropic.Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), HTTP: httpx.Options{Timeout: 5 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			// $1.00 an hour since midnight, in cents.
			return src, func(n int) { f.SetCost(t0, fmt.Sprint((8+n)*100)) }
		}, anthropicReceipt},
		{"openai", func(t *testing.T, clock func() time.Time, _ func(int)) (poller.Source, func(int)) {
			f := pollertest.NewOpenAI(t)
			f.SetClock(clock)
			src, err := openai.New(openai.Options{BaseURL: f.URL(), AdminKey: secret.New(f.AdminKey), HTTP: httpx.Options{Timeout: 5 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			return src, func(n int) { f.SetCost(t0, fmt.Sprintf("%d.00", 8+n)) }
		}, openAINotice},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			ctx := context.Background()
			now := t0
			src, setCost := tc.source(t, func() time.Time { return now }, nil)
			mail := t.TempDir()
			mb, err := folder.New(folder.Options{Path: mail})
			if err != nil {
				t.Fatal(err)
			}
			st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			a := lt.Account("5", "10")
			a.Name, a.Provider = "acme-"+tc.provider, tc.provider
			// The console showed $4.00 at 07:30; $1.00 an hour is spent.
			a.Anchor, a.HasAnchor = billing.BalanceAnchor{Amount: lt.USD("4.00"), At: t0.Add(-30 * time.Minute)}, true
			var out strings.Builder
			g := guard.New([]guard.Account{{Account: a, Source: src}}, guard.Options{
				Params: rules.DefaultParams(), State: st.Lifecycle(), History: st,
				Receivers: []alert.Receiver{{Name: "out", Notifier: alert.NewWriter(&out, alert.FormatText)}},
				Policy:    lifecycle.Policy{Repeat: map[billing.Severity]time.Duration{billing.SeverityCritical: 4 * time.Hour}, ResolveAfter: 2},
				Inbox: &inbox.Inbox{Mailboxes: []inbox.Mailbox{{Name: "billing", Reader: mb}},
					Routes: []inbox.Route{{Account: a.Name, Provider: tc.provider, Currency: "USD", Mailbox: "billing"}}},
			})
			if err := g.Load(ctx, now); err != nil {
				t.Fatal(err)
			}
			for n := 0; n <= 4; n++ {
				now = t0.Add(time.Duration(n) * time.Hour)
				setCost(n)
				if n >= 1 {
					// Paid at 10 minutes to the hour, mailed at once.
					path := filepath.Join(mail, fmt.Sprintf("receipt-%d.eml", n))
					if err := os.WriteFile(path, []byte(tc.receipt(n, now.Add(-10*time.Minute))), 0o600); err != nil {
						t.Fatal(err)
					}
					old := time.Now().Add(-time.Minute) // settled, as the folder reader wants
					if err := os.Chtimes(path, old, old); err != nil {
						t.Fatal(err)
					}
				}
				rep, err := g.Cycle(ctx, now)
				if err != nil {
					t.Fatalf("%s: cycle: %v", now.Format("15:04"), err)
				}
				if len(rep.Failed) > 0 {
					t.Fatalf("%s: %v", now.Format("15:04"), rep.Failed[0])
				}
				var fired []string
				for _, s := range rep.Sent {
					fired = append(fired, s.Finding.Rule)
				}
				burst := strings.Contains(strings.Join(fired, " "), "recharge-burst")
				if want := n == 3; burst != want {
					t.Errorf("%s (receipts read: %d): recharge-burst fired %v, want %v (sent %v)", now.Format("15:04"), n, burst, want, fired)
				}
			}
			text := out.String()
			for _, want := range []string{"[CRITICAL] recharge-burst on acme-" + tc.provider, "3 recharges in 6 hours",
				"Balance: effective $", "(derived: the $4.00 you read off the console at 2026-11-30 07:30 UTC", "runway ",
				"derived balance before it at least"} {
				if !strings.Contains(text, want) {
					t.Errorf("message lacks %q:\n%s", want, text)
				}
			}
		})
	}
}
