package secret

import (
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	key := New("sk-admin-9f8e7d6c5b4a3210fedcba")
	hook := New("https://hooks.example.com/services/T0/B0/abcdefgh12345678?token=tok-4567890123")
	pw := New("pässwörd-ünicode")
	odd := New("äbcdefghij")
	tests := []struct {
		name, in, want string
	}{
		{"whole", "key sk-admin-9f8e7d6c5b4a3210fedcba refused", "key <secret> refused"},
		{"suffix", "Incorrect API key provided: sk-adm…3210fedcba.", "Incorrect API key provided: sk-adm…<secret>."},
		{"prefix", "key sk-admin-9f8e… is wrong", "key <secret>… is wrong"},
		{"middle, no prefix", "got 7d6c5b4a32 from you", "got <secret> from you"},
		{"seven characters stay", "ends in …fedcba0 and 5b4a321", "ends in …fedcba0 and 5b4a321"},
		{"two runs", "9f8e7d6c5b and 10fedcba", "<secret> and <secret>"},
		{"url: host shows, path does not", "lookup hooks.example.com: no such host; path /services/T0/B0/abcdefgh1234",
			"lookup hooks.example.com: no such host; path <secret>"},
		{"url: query value", "token tok-4567890123 expired", "token <secret> expired"},
		{"any query goes", "see https://help.example.com/keys?key=abc&x=1 for help", "see https://help.example.com/keys?… for help"},
		{"non-ASCII", "pw össwörd-ü!", "pw ö<secret>!"},
		// Ĥ ends in the byte ä ends in: the run starts inside Ĥ, which goes
		// whole.
		{"whole runes", "got Ĥbcdefghij", "got <secret>"},
		{"nothing to hide", "connection refused", "connection refused"},
	}
	for _, tt := range tests {
		if got := Scrub(tt.in, key, hook, pw, odd); got != tt.want {
			t.Errorf("%s: Scrub(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := Quote("a\"b"); got != `"a\"b"` {
		t.Errorf("got %s", got)
	}
	long := Quote(strings.Repeat("x", 500))
	if n := len([]rune(long)); n != MaxQuote+2 || !strings.HasSuffix(long, `…"`) {
		t.Errorf("got %d characters (%s), want %d with the quotes, ending in …", n, long, MaxQuote+2)
	}
	if got := Quote("key 9f8e7d6c5b4a", New("00009f8e7d6c5b4a")); got != `"key <secret>"` {
		t.Errorf("got %s, want the run scrubbed", got)
	}
}
