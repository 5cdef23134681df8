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
// account all failed (critical), or all missed parts, grants, balance,
// costs or charges, that the source normally reads (warning). guardd never
// goes quiet without saying so. Parts a provider does not offer at all are
// not "missing".
//
// Missing parts are grouped by the source (endpoint or file) that failed to
// serve them, as the newest poll names it: one endpoint failing says so
// once, however many parts it serves (OpenAI's credit grants endpoint
// serves the grants and the balance). The finding's entity names the
// group's parts, in billing.Parts order: "part:grants" for one,
// "part:balance,grants" for two.
type SourceBlind struct {
	// Polls is how many polls in a row must fail (or miss a part).
	Polls setting.Count `yaml:"polls" min:"1"`
}

func defaultSourceBlind() *SourceBlind { return &SourceBlind{Polls: setting.CountOf(3)} }

// History implements Rule: it reads the ledger's recent polls.
func (SourceBlind) History() time.Duration { return 0 }

// Name implements Rule.
func (SourceBlind) Name() string { return "source-blind" }

// partsPrefix starts the entity of a finding about missing parts.
const partsPrefix = "part:"

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
	var groups [][]billing.Part
	bySource := make(map[string]int)
	for _, part := range billing.Parts {
		missing := true
		for _, p := range polls {
			if _, ok := p.Unavailable[part]; p.Err == "" && !ok {
				missing = false
				break
			}
		}
		if !missing {
			continue
		}
		src := failedSource(h, part)
		if i, ok := bySource[src]; ok && src != "" {
			groups[i] = append(groups[i], part)
			continue
		}
		bySource[src] = len(groups)
		groups = append(groups, []billing.Part{part})
	}
	out := make([]billing.Finding, 0, len(groups))
	for _, parts := range groups {
		out = append(out, billing.Finding{Severity: billing.SeverityWarning, Entity: partsEntity(parts)})
	}
	return out
}

// failedSource is the source the newest observation tried part at and
// could not read it from; "" when it does not say.
func failedSource(h *ledger.Ledger, part billing.Part) string {
	cur, _ := h.Current()
	if cur == nil {
		return ""
	}
	if st, ok := cur.Status(part); ok && st.Unavailable != "" {
		return st.Source
	}
	return ""
}

// partsEntity is the entity of a finding about parts.
func partsEntity(parts []billing.Part) string {
	return partsPrefix + strings.Join(partNames(parts), ",")
}

func partNames(parts []billing.Part) []string {
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = string(p)
	}
	return names
}

// entityParts reads the parts back from a finding's entity.
func entityParts(entity string) []billing.Part {
	var parts []billing.Part
	for _, name := range strings.Split(strings.TrimPrefix(entity, partsPrefix), ",") {
		parts = append(parts, billing.Part(name))
	}
	return parts
}

// Explain implements Rule.
func (r SourceBlind) Explain(h *ledger.Ledger, now time.Time, f billing.Finding) billing.Finding {
	polls := h.RecentPolls(r.Polls.N)
	parts := entityParts(f.Entity)
	prev := ""
	for i := len(polls) - 1; i >= 0; i-- {
		p := polls[i]
		why := p.Err
		if why == "" {
			why = unavailableNote(parts, p.Unavailable)
		}
		note := why
		if why == prev {
			// Said once: a reason repeated each poll hides the rest.
			note = "the same reason"
			if p.Err == "" {
				note = partWords(parts) + " unavailable: the same reason"
			}
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
	from := ""
	if src := failedSource(h, parts[0]); src != "" {
		from = " from " + src
	}
	latest := unavailableNote(parts, polls[0].Unavailable)
	f.Summary = fmt.Sprintf("guardd could not read the %s of account %s%s in the last %d polls (since %s); rules that need them cannot see. The latest: %s",
		partWords(parts), h.Account().Name, from, len(polls), since, latest)
	f.Recommendation = fixIn(latest, "See the reason in the evidence; a session key that expired or an endpoint that changed are the usual causes.")
	return f
}

// unavailableNote says why a poll missed parts: "grants unavailable: …",
// the reason said once when the parts share it.
func unavailableNote(parts []billing.Part, why map[billing.Part]string) string {
	same := true
	for _, p := range parts[1:] {
		same = same && why[p] == why[parts[0]]
	}
	if same {
		return fmt.Sprintf("%s unavailable: %s", partWords(parts), why[parts[0]])
	}
	notes := make([]string, len(parts))
	for i, p := range parts {
		notes[i] = fmt.Sprintf("%s unavailable: %s", p, why[p])
	}
	return strings.Join(notes, "; ")
}

// partWords names parts in prose: "grants", "balance and grants".
func partWords(parts []billing.Part) string { return setting.AndList(partNames(parts)) }

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
