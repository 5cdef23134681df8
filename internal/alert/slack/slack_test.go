package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/slack-go/slack"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/guardd/guardd/internal/alert"
	"github.com/guardd/guardd/internal/alert/receivertest"
	"github.com/guardd/guardd/internal/alert/slacktest"
	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/secret"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var evalAt = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

func usd(s string) billing.Money {
	return billing.NewMoney(decimal.RequireFromString(s), "USD")
}

// rechargeBurst is a critical finding with four recharges of evidence and a
// recommendation.
func rechargeBurst() alert.Notification {
	var ev []billing.Evidence
	for i, ref := range []string{"ch_3Pq1", "ch_3Pq2", "ch_3Pq3", "ch_3Pq4"} {
		at := evalAt.Add(-110*time.Minute + time.Duration(i)*30*time.Minute)
		ev = append(ev, billing.Evidence{
			What:   "recharge",
			Ref:    ref,
			At:     at,
			Amount: usd("10.00"),
			Note:   "auto-recharge, balance fell below $5.00",
			Source: "GET /v1/organization/credit_grants",
			AsOf:   evalAt,
		})
	}
	return alert.Notification{
		Status: alert.StatusFiring,
		At:     evalAt,
		Finding: billing.Finding{
			Rule:     "recharge-burst",
			Severity: billing.SeverityCritical,
			Account:  "acme-openai",
			Entity:   "recharges",
			At:       evalAt,
			Summary:  "4 auto-recharges totalling $40.00 in the last 2 hours (more than 3 in 6 hours): consumption is outrunning the recharges",
			Evidence: ev,
			Recommendation: "Turn auto-recharge off or lower its monthly limit at the provider, " +
				"then find which API key is spending: the provider's usage page breaks spend down per key.",
			Folded: []string{"recharge-above-threshold: 2 auto-recharges in the last 24 hours although the balance was above the $5.00 threshold"},
			State: billing.AccountState{
				Effective:      usd("4.12"),
				EffectiveKnown: true,
				Shown:          usd("4.12"),
				ShownKnown:     true,
				Runway: billing.Runway{
					Known:      true,
					BurnPerDay: usd("240.00"),
					Window:     6 * time.Hour,
					Lasts:      24 * time.Minute,
					Until:      evalAt.Add(24 * time.Minute),
				},
				ObservedAt: evalAt.Add(-time.Minute),
			},
		},
	}
}

// phantomBalance is a warning: the provider shows $69.00 but only $3.93 can
// be spent.
func phantomBalance() alert.Notification {
	return alert.Notification{
		Status: alert.StatusFiring,
		At:     evalAt,
		Finding: billing.Finding{
			Rule:     "phantom-balance",
			Severity: billing.SeverityWarning,
			Account:  "deepseek-main",
			Entity:   "grant-2026-01",
			At:       evalAt,
			Summary:  "the provider shows $69.00 but only $3.93 can be spent: $65.07 is a grant that expired on 2026-03-01",
			Evidence: []billing.Evidence{
				{What: "balance", At: evalAt, Amount: usd("69.00"), Note: "shown balance", Source: "GET /user/balance", AsOf: evalAt},
				{What: "grant", Ref: "grant-2026-01", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Amount: usd("65.07"),
					Note: "expired 2026-03-01, still counted in the shown balance", Source: "GET /user/balance", AsOf: evalAt},
			},
			State: billing.AccountState{
				Effective:      usd("3.93"),
				EffectiveKnown: true,
				Shown:          usd("69.00"),
				ShownKnown:     true,
				Runway: billing.Runway{
					Known:      true,
					BurnPerDay: usd("1.20"),
					Window:     7 * 24 * time.Hour,
					Lasts:      78*time.Hour + 36*time.Minute,
					Until:      evalAt.Add(78*time.Hour + 36*time.Minute),
				},
				ObservedAt: evalAt,
			},
		},
	}
}

// resolved is the recharge burst, six hours later.
func resolved() alert.Notification {
	n := rechargeBurst()
	n.Status = alert.StatusResolved
	n.At = evalAt.Add(6 * time.Hour)
	return n
}

// manyEvidence has 60 evidence rows, more than a message shows.
func manyEvidence() alert.Notification {
	n := rechargeBurst()
	n.Finding.Account = "acme-anthropic"
	n.Finding.Summary = "60 auto-recharges totalling $300.00 in the last 3 hours"
	n.Finding.Evidence = nil
	for i := range 60 {
		n.Finding.Evidence = append(n.Finding.Evidence, billing.Evidence{
			What:   "recharge",
			Ref:    fmt.Sprintf("ch_%03d", i+1),
			At:     evalAt.Add(-3*time.Hour + time.Duration(i)*3*time.Minute),
			Amount: usd("5.00"),
			Source: "GET /v1/organizations/credit_grants",
		})
	}
	return n
}

func TestMessageGolden(t *testing.T) {
	tests := []struct {
		name string
		n    alert.Notification
	}{
		{"recharge-burst", rechargeBurst()},
		{"phantom-balance", phantomBalance()},
		{"resolved", resolved()},
		{"many-evidence", manyEvidence()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.MarshalIndent(Message(tt.n), "", "  ")
			if err != nil {
				t.Fatalf("marshal message: %v", err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Message(%s) differs from %s (run go test -update to accept):\ngot\n%s\nwant\n%s", tt.name, path, got, want)
			}
		})
	}
}

func TestMessageContent(t *testing.T) {
	tests := []struct {
		name string
		n    alert.Notification
		want []string // substrings of the blocks' text
		not  []string
	}{
		{
			name: "firing",
			n:    rechargeBurst(),
			want: []string{"*Recommendation*\nTurn auto-recharge off", "*Severity*\ncritical", "*Fired at*\n2026-03-14 09:30 UTC",
				"*Evidence*\n• 2026-03-14 07:40 UTC  recharge ch_3Pq1  $10.00", "fingerprint " + rechargeBurst().Finding.Fingerprint() + " · guardd"},
		},
		{
			name: "phantom balance",
			n:    phantomBalance(),
			want: []string{"Balance: effective $3.93 (the provider shows $69.00)"},
			not:  []string{"Recommendation"},
		},
		{
			name: "resolved",
			n:    resolved(),
			want: []string{"*Resolved* at 2026-03-14 15:30 UTC: recharge-burst no longer holds (it fired at 2026-03-14 09:30 UTC", "Balance: effective $4.12"},
			not:  []string{"Evidence", "Recommendation"},
		},
		{
			name: "truncated evidence",
			n:    manyEvidence(),
			want: []string{"ch_020", "… and 40 more"},
			not:  []string{"ch_021"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := Message(tt.n)
			if got, want := msg.Text, alert.Text(tt.n); got != want {
				t.Errorf("got text %q, want %q", got, want)
			}
			if got, want := headerText(t, msg), alert.Title(tt.n); got != want {
				t.Errorf("got header %q, want %q", got, want)
			}
			all := strings.Join(blockTexts(msg), "\n")
			for _, s := range tt.want {
				if !strings.Contains(all, s) {
					t.Errorf("got blocks without %q, want it in:\n%s", s, all)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(all, s) {
					t.Errorf("got blocks with %q, want it absent:\n%s", s, all)
				}
			}
		})
	}
}

// TestMessageLimits builds a message from oversized data and checks that it
// stays within Slack's limits: the fake Slack answers invalid_blocks
// otherwise.
func TestMessageLimits(t *testing.T) {
	n := manyEvidence()
	f := &n.Finding
	f.Account = strings.Repeat("a", 300)
	f.Rule = strings.Repeat("r", 200)
	f.Summary = strings.Repeat("<&>", 4000)
	f.Recommendation = strings.Repeat("é", 5000)
	for i := range f.Evidence {
		f.Evidence[i].Note = strings.Repeat("&", 5000)
	}
	msg := Message(n)

	if got := len(msg.Blocks.BlockSet); got > maxBlocks {
		t.Errorf("got %d blocks, want at most %d", got, maxBlocks)
	}
	if got := utf8.RuneCountInString(headerText(t, msg)); got > maxHeaderText {
		t.Errorf("got a header of %d characters, want at most %d", got, maxHeaderText)
	}
	for _, s := range blockTexts(msg) {
		if got := utf8.RuneCountInString(s); got > maxSectionText {
			t.Errorf("got a text of %d characters, want at most %d", got, maxSectionText)
		}
		if strings.Contains(s, "&amp;amp;") || strings.ContainsAny(strings.ReplaceAll(s, "&amp;", ""), "<>") {
			t.Errorf("got text with unescaped or doubly escaped characters: %.80q", s)
		}
	}
	all := strings.Join(blockTexts(msg), "\n")
	if !strings.Contains(all, "… and 40 more") {
		t.Errorf("got no %q line, want one", "… and 40 more")
	}

	srv := slacktest.NewWebhook(t)
	w := NewWebhook(secret.New(srv.URL()), nil, zap.NewNop())
	if _, _, err := w.Send(t.Context(), n); err != nil {
		t.Errorf("got error %v, want the fake Slack to accept the message", err)
	}
}

func TestMrkdwn(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"a & b <!channel> > c", 100, "a &amp; b &lt;!channel&gt; &gt; c"},
		{"abcdef", 6, "abcdef"},
		{"abcdef", 4, "abc…"},
		{"a&b", 5, "a…"}, // never half an escape
		{"a&bc", 7, "a&amp;…"},
		{"ééé", 2, "é…"},
	}
	for _, tt := range tests {
		if got := mrkdwn(tt.in, tt.limit); got != tt.want {
			t.Errorf("mrkdwn(%q, %d): got %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func TestMessageEscapes(t *testing.T) {
	n := phantomBalance()
	n.Finding.Account = "acme <&> corp"
	n.Finding.Summary = "see <https://evil.example|here> & <!channel>"
	msg := Message(n)
	if strings.Contains(msg.Text, "<!channel>") {
		t.Errorf("got text %q, want <!channel> escaped", msg.Text)
	}
	all := strings.Join(blockTexts(msg), "\n")
	for _, want := range []string{"see &lt;https://evil.example|here&gt; &amp; &lt;!channel&gt;", "*Account*\nacme &lt;&amp;&gt; corp"} {
		if !strings.Contains(all, want) {
			t.Errorf("got blocks without %q, want it in:\n%s", want, all)
		}
	}
	if got, want := headerText(t, msg), "[WARNING] phantom-balance on acme <&> corp"; got != want {
		t.Errorf("got header %q, want %q (plain text is not escaped)", got, want)
	}
}

// notifyCase is one way sending can go; the leak test runs them all too.
type notifyCase struct {
	name string
	// setup prepares the fake and returns the webhook URL to use.
	setup          func(t *testing.T, s *slacktest.Server) string
	cancel         bool
	wantRetry      bool
	wantErr        string // substring of the error; empty means success
	wantIs         error
	wantRetryAfter time.Duration // checked via errors.As when wantRateLimit
	wantRateLimit  bool
	wantRequests   int
}

func fault(f slacktest.Fault) func(*testing.T, *slacktest.Server) string {
	return func(_ *testing.T, s *slacktest.Server) string {
		s.SetFault(f)
		return s.URL()
	}
}

func notifyCases() []notifyCase {
	return []notifyCase{
		{
			name:         "ok",
			setup:        func(_ *testing.T, s *slacktest.Server) string { return s.URL() },
			wantRequests: 2,
		},
		{
			name:         "no_service",
			setup:        fault(slacktest.NoService),
			wantErr:      "404 Not Found (no_service): the webhook URL is wrong or has been revoked",
			wantRequests: 1,
		},
		{
			name: "revoked url",
			setup: func(_ *testing.T, s *slacktest.Server) string {
				u, _ := url.Parse(s.URL())
				u.Path = "/services/T000/B000/0123456789abcdef01234567"
				return u.String()
			},
			wantErr:      "the webhook URL is wrong or has been revoked",
			wantRequests: 1,
		},
		{
			name:         "invalid_blocks",
			setup:        fault(slacktest.InvalidBlocks),
			wantErr:      "slack rejected the message: 400 Bad Request (invalid_blocks)",
			wantRequests: 1,
		},
		{
			name:         "action_prohibited",
			setup:        fault(slacktest.ActionProhibited),
			wantErr:      "slack rejected the message: 403 Forbidden (action_prohibited)",
			wantRequests: 1,
		},
		{
			name:           "rate limited",
			setup:          fault(slacktest.RateLimited(30 * time.Second)),
			wantRetry:      true,
			wantErr:        "slack rate-limited the webhook: retry after 30s",
			wantRateLimit:  true,
			wantRetryAfter: 30 * time.Second,
			wantRequests:   1,
		},
		{
			name:          "rate limited without retry-after",
			setup:         fault(slacktest.RateLimited(0)),
			wantRetry:     true,
			wantErr:       "no usable Retry-After",
			wantRateLimit: true,
			wantRequests:  1,
		},
		{
			name: "rate limited with an http-date retry-after",
			setup: func(t *testing.T, s *slacktest.Server) string {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT")
					w.WriteHeader(http.StatusTooManyRequests)
				}))
				t.Cleanup(srv.Close)
				return srv.URL + s.Path()
			},
			wantRetry:     true,
			wantErr:       "no usable Retry-After",
			wantRateLimit: true,
		},
		{
			name:         "server error",
			setup:        fault(slacktest.ServerError),
			wantRetry:    true,
			wantErr:      "slack server error: 500 Internal Server Error (internal_error)",
			wantRequests: 1,
		},
		{
			name: "server closed",
			setup: func(_ *testing.T, s *slacktest.Server) string {
				s.Close()
				return s.URL()
			},
			wantRetry: true,
			wantErr:   "post to slack webhook: dial tcp",
		},
		{
			name: "timeout",
			setup: func(t *testing.T, s *slacktest.Server) string {
				done := make(chan struct{})
				hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body) // the server notices a closed connection only then
					select {
					case <-r.Context().Done():
					case <-done:
					}
				}))
				t.Cleanup(hang.Close)
				t.Cleanup(func() { close(done) })
				return hang.URL + s.Path()
			},
			wantRetry: true,
			wantErr:   "post to slack webhook: ",
			wantIs:    context.DeadlineExceeded,
		},
		{
			name:      "context cancelled",
			setup:     func(_ *testing.T, s *slacktest.Server) string { return s.URL() },
			cancel:    true,
			wantRetry: true,
			wantErr:   "send slack message (firing, fingerprint ",
			wantIs:    context.Canceled,
		},
		{
			name: "not a url",
			setup: func(_ *testing.T, s *slacktest.Server) string {
				return "hooks.slack.com" + s.Path()
			},
			wantErr: "the webhook URL is not a valid http(s) URL",
		},
	}
}

// runCase sends two notifications as the case says, with logs captured.
func runCase(t *testing.T, tc notifyCase) (srv *slacktest.Server, webhookURL string, retry bool, err error, logs *observer.ObservedLogs) {
	t.Helper()
	srv = slacktest.NewWebhook(t)
	webhookURL = tc.setup(t, srv)
	core, logs := observer.New(zap.DebugLevel)
	w := NewWebhook(secret.New(webhookURL), &http.Client{Timeout: 200 * time.Millisecond}, zap.New(core))
	ctx := t.Context()
	if tc.cancel {
		c, cancel := context.WithCancel(ctx)
		cancel()
		ctx = c
	}
	_, retry, err = receivertest.SendAll(ctx, w, rechargeBurst(), phantomBalance())
	return srv, webhookURL, retry, err, logs
}

func TestSend(t *testing.T) {
	for _, tc := range notifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, retry, err, _ := runCase(t, tc)
			if retry != tc.wantRetry {
				t.Errorf("got retry %t, want %t (error: %v)", retry, tc.wantRetry, err)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got error %q, want none", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("got no error, want one containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("got error %q, want it to contain %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("got error %v, want one matching %v", err, tc.wantIs)
			}
			var rl *RateLimitError
			if got := errors.As(err, &rl); got != tc.wantRateLimit {
				t.Errorf("got errors.As(*RateLimitError) %t, want %t (error: %v)", got, tc.wantRateLimit, err)
			} else if got && rl.RetryAfter() != tc.wantRetryAfter {
				t.Errorf("got RetryAfter %s, want %s", rl.RetryAfter(), tc.wantRetryAfter)
			}
			if got := srv.Requests(); got != tc.wantRequests {
				t.Errorf("got %d requests, want %d (stop at the first failure)", got, tc.wantRequests)
			}
			if tc.wantErr != "" {
				if got := len(srv.Messages()); got != 0 {
					t.Errorf("got %d messages posted, want 0", got)
				}
				return
			}
			msgs := srv.Messages()
			if len(msgs) != 2 {
				t.Fatalf("got %d messages posted, want 2", len(msgs))
			}
			n := rechargeBurst()
			if got, want := msgs[0].Text, alert.Text(n); got != want {
				t.Errorf("got text %q, want %q", got, want)
			}
			if got, want := headerText(t, &msgs[0]), alert.Title(n); got != want {
				t.Errorf("got header %q, want %q", got, want)
			}
			if all := strings.Join(blockTexts(&msgs[0]), "\n"); !strings.Contains(all, "*Recommendation*\n"+n.Finding.Recommendation) {
				t.Errorf("got blocks without the recommendation, want it in:\n%s", all)
			}
			raw := srv.Raw()
			if got, want := len(raw), 2; got != want {
				t.Fatalf("got %d raw payloads, want %d", got, want)
			}
			want, _ := json.Marshal(Message(n))
			if !bytes.Equal(raw[0], want) {
				t.Errorf("got payload %s, want %s", raw[0], want)
			}
		})
	}
}

// TestSendLeaksNoSecret proves that no error and no log line holds any part
// of the webhook URL's secret path, whatever goes wrong.
func TestSendLeaksNoSecret(t *testing.T) {
	for _, tc := range notifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			_, webhookURL, _, err, logs := runCase(t, tc)
			var secrets []string
			if u, perr := url.Parse(webhookURL); perr == nil && strings.HasPrefix(u.Path, "/") {
				secrets = append(secrets, u.String(), u.Path)
				for _, seg := range strings.Split(u.Path, "/") {
					if seg != "" && seg != "services" {
						secrets = append(secrets, seg)
					}
				}
			} else {
				secrets = append(secrets, webhookURL)
			}
			var texts []string
			if err != nil {
				texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
				for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
					texts = append(texts, e.Error())
				}
			}
			for _, e := range logs.All() {
				texts = append(texts, fmt.Sprintf("%s %v", e.Message, e.ContextMap()))
			}
			for _, text := range texts {
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("got %q, which holds %q from the webhook URL, want no part of it", text, s)
					}
				}
			}
		})
	}
}

func TestSendFailNextThenSucceed(t *testing.T) {
	srv := slacktest.NewWebhook(t)
	srv.FailNext(1, slacktest.ServerError)
	w := NewWebhook(secret.New(srv.URL()), nil, zap.NewNop())
	ns := []alert.Notification{rechargeBurst(), resolved()}

	_, retry, err := receivertest.SendAll(t.Context(), w, ns...)
	if !retry || err == nil {
		t.Fatalf("got retry %t, error %v; want retry true and an error", retry, err)
	}
	_, retry, err = receivertest.SendAll(t.Context(), w, ns...)
	if retry || err != nil {
		t.Fatalf("got retry %t, error %v; want false, nil", retry, err)
	}
	if got, want := srv.Requests(), 3; got != want {
		t.Errorf("got %d requests, want %d", got, want)
	}
	if got, want := len(srv.Messages()), 2; got != want {
		t.Errorf("got %d messages, want %d", got, want)
	}
}

func TestNewWebhookDefaults(t *testing.T) {
	w := NewWebhook(secret.New("https://hooks.slack.com/services/T0/B0/x"), nil, nil)
	if got, want := w.client.Timeout, 10*time.Second; got != want {
		t.Errorf("got client timeout %s, want %s", got, want)
	}
}

func headerText(t *testing.T, msg *slack.WebhookMessage) string {
	t.Helper()
	if msg.Blocks == nil || len(msg.Blocks.BlockSet) == 0 {
		t.Fatalf("got no blocks, want a header first")
	}
	h, ok := msg.Blocks.BlockSet[0].(*slack.HeaderBlock)
	if !ok {
		t.Fatalf("got first block %T, want *slack.HeaderBlock", msg.Blocks.BlockSet[0])
	}
	return h.Text.Text
}

// blockTexts lists the text of every section (and its fields) and context
// element.
func blockTexts(msg *slack.WebhookMessage) []string {
	var out []string
	for _, b := range msg.Blocks.BlockSet {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Text != nil {
				out = append(out, b.Text.Text)
			}
			for _, f := range b.Fields {
				out = append(out, f.Text)
			}
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if tx, ok := e.(*slack.TextBlockObject); ok {
					out = append(out, tx.Text)
				}
			}
		}
	}
	return out
}

// With http.external_url set, a message links the account's page on
// guardd's listener below its billing page; the footer stays last.
func TestMessageLinksGuarddPage(t *testing.T) {
	page := "https://guardd.example.com/accounts/acme-openai"
	msg := Compose(rechargeBurst(), Style{BillingURL: "https://platform.openai.com/settings/organization/billing", PageURL: page})
	texts := blockTexts(msg)
	all := strings.Join(texts, "\n")
	want := "guardd's page: <" + page + "|guardd.example.com/accounts/acme-openai>"
	if !strings.Contains(all, want) {
		t.Errorf("got blocks without %q:\n%s", want, all)
	}
	if i, j := strings.Index(all, "Billing page: "), strings.Index(all, want); i < 0 || j < i {
		t.Errorf("the billing page (at %d) should come before guardd's page (at %d)", i, j)
	}
	if last := texts[len(texts)-1]; !strings.Contains(last, "· guardd") {
		t.Errorf("the footer is not last: %q", last)
	}
	if strings.Contains(strings.Join(blockTexts(Compose(rechargeBurst(), Style{})), "\n"), "guardd's page") {
		t.Errorf("a message without PageURL links a page")
	}
}

// Slack's error words and scope lists are checked before they are put in
// an error, so that an HTML error page or a long answer never is.
func TestSlackWords(t *testing.T) {
	long := strings.Repeat("a", 65)
	for s, want := range map[string]bool{
		"no_service": true, "internal_error": true, long[:64]: true,
		"": false, long: false, "No_service": false, "<html>": false, "missing scope": false, "ratelimited\n": false,
	} {
		if got := isSlackReason(s); got != want {
			t.Errorf("isSlackReason(%q) = %v, want %v", s, got, want)
		}
	}
	scopes := strings.Repeat("b", 201)
	for s, want := range map[string]bool{
		"chat:write": true, "chat:write,channels:read": true, "a": true, "im:history.read": true, scopes: true,
		"": false, scopes + "b": false, ":write": false, "chat:write <script>": false, "Chat:write": false, "chat:write;": false,
	} {
		if got := isScopes(s); got != want {
			t.Errorf("isScopes(%q) = %v, want %v", s, got, want)
		}
	}
}
