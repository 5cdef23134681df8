package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/ledger"
	"github.com/guardd/guardd/internal/setting"
)

// SourceBlind fires when guardd cannot see: the last Polls polls of an
// account all failed (critical), or all missed one part, grants, balance,
// costs or charges, that the source normally reads (warning). guardd never
// goes quiet without saying so. Parts a provider does not offer at all are
// not "missing".
type SourceBlind struct {
	// Polls is how many polls in a row must fail (or miss a part).
	Polls setting.Count `yaml:"polls" min:"1"`
}

func defaultSourceBlind() *SourceBlind { return &SourceBlind{Polls: setting.CountOf(3)} }

// History implements Rule: it reads the ledger's recent polls.
func (SourceBlind) History() time.Duration { return 0 }

// Name implements Rule.
func (SourceBlind) Name() string { return "source-blind" }

// Check implements Rule.
func (r SourceBlind) Check(h *ledger.Ledger, now time.Time) []billing.Finding {
	polls := h.RecentPolls(r.Polls.N)
	if len(polls) < r.Polls.N || r.Polls.N <= 0 {
		return nil
	}
	failed := 0
	for _, p := range polls {
		if p.Err != "" {
			failed++
		}
	}
	if failed == len(polls) {
		return []billing.Finding{{Severity: billing.SeverityCritical, Entity: "account"}}
	}
	var out []billing.Finding
	for _, part := range billing.Parts {
		missing := true
		for _, p := range polls {
			if _, ok := p.Unavailable[part]; p.Err == "" && !ok {
				missing = false
				break
			}
		}
		if missing {
			out = append(out, billing.Finding{Severity: billing.SeverityWarning, Entity: "part:" + string(part)})
		}
	}
	return out
}

// Explain implements Rule.
func (r SourceBlind) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	polls := h.RecentPolls(r.Polls.N)
	part := billing.Part(strings.TrimPrefix(f.Entity, "part:"))
	for i := len(polls) - 1; i >= 0; i-- {
		p := polls[i]
		note := p.Err
		if note == "" {
			note = fmt.Sprintf("%s unavailable: %s", part, p.Unavailable[part])
		}
		f.Evidence = append(f.Evidence, billing.Evidence{What: "poll", At: p.At, Note: note})
	}
	since := polls[len(polls)-1].At.UTC().Format("2006-01-02 15:04 UTC")
	if f.Entity == "account" {
		f.Summary = fmt.Sprintf("guardd could not read account %s in the last %d polls (since %s): the latest error was %q. Other findings are on hold until a poll succeeds.",
			h.Account().Name, len(polls), since, polls[0].Err)
		f.Recommendation = "Check the credentials and the provider's status page; `guardd validate` lists the credentials each account needs."
		return f
	}
	f.Summary = fmt.Sprintf("guardd could not read the %s of account %s in the last %d polls (since %s); rules that need them cannot see.",
		part, h.Account().Name, len(polls), since)
	f.Recommendation = "See the reason in the evidence; a session key that expired or an endpoint that changed are the usual causes."
	return f
}

// Sees implements Rule: always: it watches the source itself.
func (SourceBlind) Sees(_ billing.Sight) bool { return true }
