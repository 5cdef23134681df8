package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	"github.com/guardd/guardd/internal/httpx"
	"github.com/guardd/guardd/internal/poller"
	"github.com/guardd/guardd/internal/secret"
	"github.com/shopspring/decimal"
)

func TestDecodeJSON(t *testing.T) {
	type doc struct {
		A Number  `json:"a"`
		B *string `json:"b"`
	}
	tests := []struct {
		body, want string
	}{
		{`{"a": 1.5, "b": "x", "extra": {"ignored": [1, 2]}}`, ""},
		{``, "the response is empty"},
		{`<!DOCTYPE html><html>`, "the response is HTML"},
		{`[1, 2]`, "not a JSON object"},
		{`{"a": 1.5, "b": "x"`, "cut short"},
		{`{"a": 1.5,, }`, "not valid JSON at byte"},
		{`{"a": 1} {"a": 2}`, "data after its JSON document"},
		{`{"b": 5}`, "field b: want a string, got a JSON number"},
		{`{"a": {"x": 1}}`, "want a number, got an object"},
		{`{"a": true}`, "want a number, got a boolean"},
	}
	for _, tc := range tests {
		var d doc
		err := DecodeJSON([]byte(tc.body), &d)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("DecodeJSON(%q): got %v, want no error", tc.body, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("DecodeJSON(%q): got %v, want an error containing %q", tc.body, err, tc.want)
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		n       Number
		want    string // "" for an error
		wantErr string
	}{
		{Number{Text: "0.06", Set: true}, "0.06", ""},
		{Number{Text: "1.8342", Set: true}, "1.8342", ""},
		{Number{Text: "123.45", Set: true}, "123.45", ""},
		{Number{Text: "1e2", Set: true}, "100", ""},
		{Number{}, "", "x is missing"},
		{Number{Text: "NaN", Set: true}, "", `"NaN" is not a decimal amount`},
		{Number{Text: "Infinity", Set: true}, "", "is not a decimal amount"},
		{Number{Text: "", Set: true}, "", "is not a decimal amount"},
		{Number{Text: "$5", Set: true}, "", "is not a decimal amount"},
		{Number{Text: "-0.40", Set: true}, "", "must not be negative"},
		{Number{Text: "1e400", Set: true}, "", "out of range"},
		{Number{Text: "1e-400", Set: true}, "", "out of range"},
	}
	for _, tc := range tests {
		got, err := tc.n.NonNegative("x")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NonNegative(%+v): got %v, %v; want an error containing %q", tc.n, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(decimal.RequireFromString(tc.want)) {
			t.Errorf("NonNegative(%+v): got %v, %v; want %s", tc.n, got, err, tc.want)
		}
	}
}

func TestUnixTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1670976000":     time.Date(2022, 12, 14, 0, 0, 0, 0, time.UTC),
		"1800000000.0":   time.Unix(1800000000, 0).UTC(),
		"1800000000.25":  time.Unix(1800000000, 250000000).UTC(),
		"253402300799":   time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		"-1":             {},
		"253402300800":   {},
		"1.7e9":          time.Unix(1700000000, 0).UTC(),
		"not a time ...": {},
	} {
		got, err := Number{Text: in, Set: true}.UnixTime("t")
		if want.IsZero() {
			if err == nil {
				t.Errorf("UnixTime(%s): got %v, want an error", in, got)
			}
			continue
		}
		if err != nil || !got.Equal(want) {
			t.Errorf("UnixTime(%s): got %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestCostWindow(t *testing.T) {
	d := func(day int) time.Time { return time.Date(2026, 10, day, 0, 0, 0, 0, time.UTC) }
	now := d(14).Add(9 * time.Hour)
	cur := &MemCursor{}
	w := CostWindow{Cursor: cur, Lookback: 7 * 24 * time.Hour, SettleLag: 24 * time.Hour}

	if got := w.Start(now); !got.Equal(d(7)) {
		t.Fatalf("first Start: got %v, want %v", got, d(7))
	}
	var bs []billing.CostBucket
	for day := 7; day <= 14; day++ {
		bs = append(bs, billing.CostBucket{Start: d(day), End: d(day + 1), Settled: w.Settled(d(day+1), now)})
	}
	// Settled: buckets ending at least 24h before now: up to the one
	// ending on the 13th at midnight.
	w.Advance(d(7), bs)
	if got := cur.SettledUntil(); !got.Equal(d(13)) {
		t.Fatalf("cursor after the first poll: got %v, want %v", got, d(13))
	}
	if got := w.Start(now.Add(time.Hour)); !got.Equal(d(13)) {
		t.Errorf("next Start: got %v, want %v (only the unsettled days)", got, d(13))
	}
	// A gap stops the cursor.
	cur2 := &MemCursor{}
	w2 := CostWindow{Cursor: cur2, Lookback: 7 * 24 * time.Hour, SettleLag: time.Hour}
	w2.Advance(d(7), []billing.CostBucket{
		{Start: d(7), End: d(8), Settled: true},
		{Start: d(9), End: d(10), Settled: true},
	})
	if got := cur2.SettledUntil(); !got.Equal(d(8)) {
		t.Errorf("cursor over a gap: got %v, want %v", got, d(8))
	}
	// The cursor never moves back, and a clock that went back reads today.
	w2.Advance(d(7), nil)
	if got := cur2.SettledUntil(); !got.Equal(d(8)) {
		t.Errorf("cursor after an empty read: got %v, want %v", got, d(8))
	}
	cur3 := &MemCursor{}
	cur3.SetSettledUntil(d(20))
	w3 := CostWindow{Cursor: cur3, Lookback: 24 * time.Hour}
	if got := w3.Start(now); !got.Equal(d(14)) {
		t.Errorf("Start with a cursor in the future: got %v, want today %v", got, d(14))
	}
}

func TestMergeBuckets(t *testing.T) {
	d := func(day int) time.Time { return time.Date(2026, 10, day, 0, 0, 0, 0, time.UTC) }
	usd := func(s string) billing.Money { return billing.NewMoney(decimal.RequireFromString(s), "USD") }
	got, err := MergeBuckets([]billing.CostBucket{
		{Start: d(2), End: d(3), Amount: usd("1.5")},
		{Start: d(1), End: d(2), Amount: usd("0.25")},
		{Start: d(2), End: d(3), Amount: usd("2.115")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Start.Equal(d(1)) || got[1].Amount.Exact() != "3.615" {
		t.Errorf("MergeBuckets: got %+v, want day 1 then day 2 summed to 3.615", got)
	}
	if _, err := MergeBuckets([]billing.CostBucket{
		{Start: d(1), End: d(3), Amount: usd("1")},
		{Start: d(2), End: d(3), Amount: usd("1")},
	}); err == nil {
		t.Error("MergeBuckets of overlapping buckets: no error")
	}
}

// TestObservationMapsKitErrors: a source's Fetch fails with the
// poller.Source contract's sentinels although the HTTP kit knows nothing of
// them, and the reasons read as the kit wrote them.
func TestObservationMapsKitErrors(t *testing.T) {
	now := time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC)
	key := secret.New("sk-admin-0123456789abcdef")
	blind := fmt.Errorf("GET /v1/x: %w: the poll's budget of 3 requests is used up", httpx.ErrUnavailable)
	bad := fmt.Errorf("GET /v1/y: %w: got an HTML page, not JSON (a proxy, login or error page?)", httpx.ErrInvalid)
	tests := []struct {
		name                 string
		errs                 []error
		wantBlind, wantWrong bool
	}{
		{"unavailable", []error{blind}, true, false},
		{"invalid", []error{bad}, false, true},
		{"both", []error{blind, bad}, true, true},
		{"a source's own", []error{fmt.Errorf("GET /v1/z: %w: balance_infos is empty", poller.ErrInvalid)}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := NewObservation(now, key)
			var want []string
			for i, err := range tc.errs {
				part := []billing.Part{billing.PartCosts, billing.PartBalance}[i]
				o.Fail(part, "test:GET /v1", err)
				want = append(want, string(part)+": "+err.Error())
				if got := o.Data().Parts[part].Unavailable; got != err.Error() {
					t.Errorf("%s reason: got %q, want %q", part, got, err.Error())
				}
			}
			_, err := o.Result()
			if got := errors.Is(err, poller.ErrUnavailable); got != tc.wantBlind {
				t.Errorf("errors.Is(%v, poller.ErrUnavailable): got %t, want %t", err, got, tc.wantBlind)
			}
			if got := errors.Is(err, poller.ErrInvalid); got != tc.wantWrong {
				t.Errorf("errors.Is(%v, poller.ErrInvalid): got %t, want %t", err, got, tc.wantWrong)
			}
			if got := err.Error(); got != strings.Join(want, "; ") {
				t.Errorf("got error %q, want %q", got, strings.Join(want, "; "))
			}
		})
	}
}

// Each failure is sorted into the kind of cause a metric label can carry.
func TestFailCause(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want billing.Cause
	}{
		{&httpx.StatusError{Endpoint: "GET /x", Code: 401}, billing.CauseKeyRefused},
		{&httpx.StatusError{Endpoint: "GET /x", Code: 403}, billing.CauseKeyRefused},
		{&httpx.StatusError{Endpoint: "GET /x", Code: 429}, billing.CauseRateLimited},
		{&httpx.StatusError{Endpoint: "GET /x", Code: 503}, billing.CauseProviderError},
		{fmt.Errorf("GET /x: %w", poller.KeyRefused("the session key is an API key")), billing.CauseKeyRefused},
		{fmt.Errorf("GET /x: %w: truncated", httpx.ErrInvalid), billing.CauseInvalid},
		{fmt.Errorf("GET /x: %w: %w", httpx.ErrUnavailable, context.DeadlineExceeded), billing.CauseUnreachable},
	} {
		o := NewObservation(time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC))
		o.Fail(billing.PartGrants, "test:GET /x", tt.err)
		if got := o.Data().Parts[billing.PartGrants].Cause; got != tt.want {
			t.Errorf("%v: cause %q, want %q", tt.err, got, tt.want)
		}
	}
}
