package rules

import (
	"fmt"
	"slices"
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
	prev := ""
	for i := len(polls) - 1; i >= 0; i-- {
		p := polls[i]
		why := p.Err
		if why == "" {
			why = p.Unavailable[part]
		}
		note := why
		if why == prev {
			note = "the same reason"
		}
		if p.Err == "" {
			note = fmt.Sprintf("%s unavailable: %s", part, note)
		}
		prev = why
		f.Evidence = append(f.Evidence, billing.Evidence{What: "poll", At: p.At, Note: note})
	}
	since := polls[len(polls)-1].At.UTC().Format("2006-01-02 15:04 UTC")
	if f.Entity == "account" {
		f.Summary = fmt.Sprintf("guardd could not read account %s in the last %d polls (since %s): the latest error was %q. Other findings are on hold until a poll succeeds.",
			h.Account().Name, len(polls), since, polls[0].Err)
		f.Recommendation = fixIn(polls[0].Err, "Check the credentials and the provider's status page; `guardd validate --online` tries each key.")
		return f
	}
	why := polls[0].Unavailable[part]
	f.Summary = fmt.Sprintf("guardd could not read the %s of account %s in the last %d polls (since %s); rules that need them cannot see. The latest reason: %s",
		part, h.Account().Name, len(polls), since, why)
	f.Recommendation = fixIn(why, "See the reason in the evidence; a session key that expired or an endpoint that changed are the usual causes.")
	return f
}

// fixIn returns the fixes a reason carries, or otherwise. A source says
// its fix as "Fix: …" up to the parenthesis around it (or the end); a
// reason joining several failures may carry several.
func fixIn(reason, otherwise string) string {
	var fixes []string
	for rest := reason; ; {
		i := strings.Index(rest, "Fix: ")
		if i < 0 {
			break
		}
		rest = rest[i:]
		end, depth := len(rest), 0
	scan:
		for j, r := range rest {
			switch r {
			case '(':
				depth++
			case ')':
				if depth == 0 {
					end = j
					break scan
				}
				depth--
			}
		}
		if fix := strings.TrimSpace(rest[:end]); !slices.Contains(fixes, fix) {
			fixes = append(fixes, fix)
		}
		rest = rest[end:]
	}
	if len(fixes) == 0 {
		return otherwise
	}
	return strings.Join(fixes, " ")
}

// Sees implements Rule: always: it watches the source itself.
func (SourceBlind) Sees(_ billing.Sight) bool { return true }
