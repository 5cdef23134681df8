package billing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Severity ranks findings.
type Severity string

const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// ParseSeverity accepts info, warning or critical.
func ParseSeverity(s string) (Severity, error) {
	switch v := Severity(s); v {
	case SeverityInfo, SeverityWarning, SeverityCritical:
		return v, nil
	}
	return "", fmt.Errorf("unknown severity %s: want info, warning or critical", Quote(s))
}

// Rank orders severities: info 1, warning 2, critical 3 (0 if unknown).
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityWarning:
		return 2
	case SeverityCritical:
		return 3
	}
	return 0
}

// Evidence is one figure a finding rests on, with its time and source.
type Evidence struct {
	// What kind of thing this is: "recharge", "grant", "balance", ...
	What string
	// Ref identifies it at the provider (grant or charge id), if it has one.
	Ref    string
	At     time.Time
	Amount Money
	// Note explains the figure in a few words.
	Note string
	// Source says where the figure came from (endpoint or file) and AsOf how
	// fresh it was.
	Source string
	AsOf   time.Time
}

// Runway says how long an effective balance lasts at the recent burn.
type Runway struct {
	// Known is false when there is too little history to measure a burn.
	Known bool
	// BurnPerDay is the average consumption per day over Window.
	BurnPerDay Money
	Window     time.Duration
	// FromCosts is true when the burn comes from the provider's settled
	// cost report, because guardd's own history is too short to measure
	// one.
	FromCosts bool
	// Endless is true when nothing was consumed over the window.
	Endless bool
	// Lasts is how long the balance lasts, and Until when it runs out; both
	// are set only when Known and not Endless.
	Lasts time.Duration
	Until time.Time
}

// AccountState is the account's position when a finding fired: the real
// (effective) balance, what the provider shows, and the runway.
type AccountState struct {
	Effective      Money
	EffectiveKnown bool
	// DerivedFrom, when set, says the effective balance is guardd's own
	// figure: derived from this anchor, plus receipts since, minus costs
	// since. Wherever the balance is shown, it says so.
	DerivedFrom *BalanceAnchor
	Shown       Money
	ShownKnown  bool
	Runway      Runway
	// ObservedAt is the time of the observation the state was taken from.
	ObservedAt time.Time
}

// Finding is one anomaly a rule found in an account's history.
type Finding struct {
	Rule     string
	Severity Severity
	Account  string
	// Entity is what the finding is about (a grant or charge id, or a fixed
	// word such as "recharges" for account-wide conditions).
	Entity string
	// At is the evaluation time at which the rule found it.
	At       time.Time
	Summary  string
	Evidence []Evidence
	// Recommendation is set on money-losing findings.
	Recommendation string
	State          AccountState
	// InhibitedBy names the rule whose finding this one is a symptom of (a
	// recharge-above-threshold during a recharge-burst): it is recorded but
	// not notified while that rule fires.
	InhibitedBy string
	// Folded summarises the symptoms folded into this finding.
	Folded []string
	// FiringSince, for a repeat of a firing alert, is when it started
	// firing; zero otherwise.
	FiringSince time.Time
}

// Fingerprint identifies the finding across polls and runs: the same rule,
// account and entity always give the same fingerprint.
func (f Finding) Fingerprint() string {
	return Fingerprint(f.Rule, f.Account, f.Entity)
}

// Fingerprint hashes rule, account and entity into a stable 16-hex-digit id.
func Fingerprint(rule, account, entity string) string {
	fp := fingerprint(rule, account, entity)
	return string(fp[:])
}

// IsFingerprint reports whether fp is Fingerprint(rule, account, entity),
// without making the string: stores check every alert and finding they keep.
func IsFingerprint(fp, rule, account, entity string) bool {
	want := fingerprint(rule, account, entity)
	return fp == string(want[:])
}

// fingerprint is the first 8 bytes of the SHA-256 of rule, account and
// entity, each followed by a zero byte, in hex. It hashes from the stack:
// the lifecycle takes several fingerprints per finding and poll.
func fingerprint(rule, account, entity string) [16]byte {
	var buf [128]byte
	b := buf[:0]
	for _, s := range [...]string{rule, account, entity} {
		b = append(b, s...)
		b = append(b, 0)
	}
	sum := sha256.Sum256(b)
	var out [16]byte
	hex.Encode(out[:], sum[:8])
	return out
}
