package mailbox_test

import (
	"errors"
	"testing"

	"github.com/guardd/guardd/internal/mailbox"
)

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 2 << 20: "2 MiB", 3 << 30: "3 GiB"} {
		if got := mailbox.Bytes(n); got != want {
			t.Errorf("Bytes(%d): got %q, want %q", n, got, want)
		}
	}
}

func TestLimits(t *testing.T) {
	l := mailbox.Limits{Messages: 5}.WithDefaults()
	if l.Messages != 5 || l.MessageBytes != mailbox.DefaultMessageBytes || l.ReadBytes != mailbox.DefaultReadBytes {
		t.Errorf("WithDefaults: got %+v", l)
	}
	if got, want := l.TooLarge(5<<20), "5 MiB, larger than the 2 MiB limit for one message"; got != want {
		t.Errorf("TooLarge: got %q, want %q", got, want)
	}
}

func TestCursor(t *testing.T) {
	type st struct{ UID int }
	c := mailbox.EncodeCursor("imap", st{UID: 7})
	var got st
	if ok, err := mailbox.DecodeCursor(c, "imap", &got); !ok || err != nil || got.UID != 7 {
		t.Errorf("round trip of %s: got %v, %v, %+v", c, ok, err, got)
	}
	for _, tc := range []struct {
		name   string
		c      mailbox.Cursor
		ok     bool
		broken bool
	}{
		{"zero", "", false, false},
		{"another kind", mailbox.EncodeCursor("folder", st{}), false, false},
		{"not JSON", "imap:1:2", false, true},
		{"two kinds", `{"imap":{},"folder":{}}`, false, true},
		{"wrong shape", `{"imap":[1]}`, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := mailbox.DecodeCursor(tc.c, "imap", &got)
			if ok != tc.ok || errors.Is(err, mailbox.ErrCursor) != tc.broken {
				t.Errorf("got %v, %v; want ok %v, damaged %v", ok, err, tc.ok, tc.broken)
			}
		})
	}
}
