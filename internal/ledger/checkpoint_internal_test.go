package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
)

// A ledger read back from its checkpoint after every poll, and continued
// from there (as each guardd check does), is the ledger that never
// stopped, at every poll of a year of each shape: its state, encoded, is
// the same bytes at every poll, and its answers about the horizon are the
// same every day. Its checkpoint stays the size of the horizon.
func TestCheckpointContinuesTheLedger(t *testing.T) {
	polls := 24 * 365
	if testing.Short() {
		polls = 24 * 80
	}
	for _, shape := range lt.Shapes {
		t.Run(shape.String(), func(t *testing.T) {
			t.Parallel()
			a, hist := lt.History(shape, time.Hour, polls)
			opts := DefaultOptions()
			opts.Keep = keep
			live, restarted := New(a, opts), New(a, opts)
			var size, biggest int
			for i, p := range hist {
				replay(t, live, p)
				replay(t, restarted, p)
				cp := restarted.Checkpoint()
				if want := live.Checkpoint(); !bytes.Equal(cp, want) {
					t.Fatalf("poll %d at %s: the continued ledger's state differs from the live one's (%d bytes, want %d)", i, p.At, len(cp), len(want))
				}
				back, err := FromCheckpoint(a, opts, cp)
				if err != nil {
					t.Fatalf("poll %d at %s: %v", i, p.At, err)
				}
				restarted, size, biggest = back, len(cp), max(biggest, len(cp))
				if i%24 != 0 && i != len(hist)-1 {
					continue
				}
				if got, want := views(restarted, p.At, true), views(live, p.At, true); got != want {
					t.Fatalf("poll %d at %s: the ledger read back differs:\n%s", i, p.At, lt.Diff(got, want))
				}
			}
			t.Logf("%s: checkpoint %d bytes after %d hourly polls (largest %d)", shape, size, len(hist), biggest)
			if limit := 64 << 10; biggest > limit {
				t.Errorf("a checkpoint took %d bytes, want at most %d", biggest, limit)
			}
		})
	}
}

// A ledger frozen after every poll and thawed for the next, as guardd run
// holds it, is the live ledger at every poll; each freeze writes over the
// block the ledger was thawed from while it has the room, takes a new
// one seldom, and holds it in a block of about its size. The zero Frozen holds nothing and says so.
func TestFreezeThaw(t *testing.T) {
	a, hist := lt.History(lt.ShapeGrants, 15*time.Minute, 96*40)
	opts := DefaultOptions()
	opts.Keep = keep
	live, f := New(a, opts), New(a, opts).Freeze(nil)
	blocks := 1
	for i, p := range hist {
		l, err := f.Thaw()
		if err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		replay(t, live, p)
		replay(t, l, p)
		spare := f.Checkpoint()
		f = l.Freeze(spare)
		if &f.Checkpoint()[0] != &spare[0] {
			blocks++
		}
		if want := live.Checkpoint(); !bytes.Equal(f.Checkpoint(), want) {
			t.Fatalf("poll %d at %s: the frozen ledger differs from the live one (%d bytes, want %d)", i, p.At, len(f.Checkpoint()), len(want))
		}
		// The allocator's size classes are at most a fifth apart above
		// 1 KB; the room taken to write a checkpoint is half as much again.
		if n, c := len(f.Checkpoint()), cap(f.Checkpoint()); c > n+n/4 {
			t.Fatalf("poll %d: a checkpoint of %d bytes held in a block of %d", i, n, c)
		}
	}
	if blocks > len(hist)/50 {
		t.Errorf("%d blocks taken for %d freezes, want at most %d", blocks, len(hist), len(hist)/50)
	}
	t.Logf("%d blocks for %d freezes", blocks, len(hist))
	if _, err := (Frozen{}).Thaw(); err == nil || !strings.Contains(err.Error(), "none was frozen") {
		t.Errorf("thawing the zero Frozen: %v, want an error saying none was frozen", err)
	}
}

// checkpointOf returns the checkpoint of a month of hourly polls of the
// grants shape, with the account and options.
func checkpointOf(t testing.TB) (billing.Account, Options, []byte) {
	t.Helper()
	a, hist := lt.History(lt.ShapeGrants, time.Hour, 24*40)
	opts := DefaultOptions()
	opts.Keep = keep
	l := New(a, opts)
	for _, p := range hist {
		replay(t, l, p)
	}
	return a, opts, l.Checkpoint()
}

// payloadOf returns the payload cp holds, unpacked.
func payloadOf(t testing.TB, cp []byte) []byte {
	t.Helper()
	p, err := new(scratch).unpack(cp[len(checkpointHeader) : len(cp)-4])
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(p)
}

// sealed returns the checkpoint of payload, packed and with its checksum,
// as a damaged ledger would have written it.
func sealed(payload []byte) []byte { return new(scratch).seal(nil, payload) }

// reseal returns b with its last four bytes the checksum of those before.
func reseal(b []byte) []byte {
	body := b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(slices.Clone(body), crc32.Checksum(body, castagnoli))
}

// A checkpoint that is damaged, truncated, of another version or of other
// settings is refused with an error saying so, never a panic.
func TestCheckpointRefusesWhatItCannotTrust(t *testing.T) {
	a, opts, cp := checkpointOf(t)
	if _, err := FromCheckpoint(a, opts, cp); err != nil {
		t.Fatalf("the intact checkpoint: %v", err)
	}
	other := a
	other.AutoRecharge.Amount = lt.USD("50.01")
	wider := opts
	wider.Keep += time.Hour
	v2 := append([]byte(nil), cp...)
	v2[len(checkpointMagic)] = CheckpointVersion + 1
	for _, tc := range []struct {
		name string
		a    billing.Account
		o    Options
		data []byte
		is   error
		want string
	}{
		{"empty", a, opts, nil, nil, "not a ledger checkpoint"},
		{"json", a, opts, []byte(`{"version": 1, "points": []}`), nil, "not a ledger checkpoint"},
		{"truncated", a, opts, cp[:len(cp)/2], nil, "checksum mismatch"},
		{"a flipped bit", a, opts, flip(cp, len(cp)/3), nil, "checksum mismatch"},
		{"another version", a, opts, reseal(v2), ErrCheckpointVersion, fmt.Sprintf("version %d, want %d", CheckpointVersion+1, CheckpointVersion)},
		{"other account settings", other, opts, cp, ErrCheckpointFingerprint, "other account settings"},
		{"another horizon", a, wider, cp, ErrCheckpointFingerprint, "other account settings"},
		{"bytes left over", a, opts, sealed(append(payloadOf(t, cp), 0, 0, 0, 0, 0)), nil, "left over"},
		{"a payload that does not unpack", a, opts, reseal(append(slices.Clone(checkpointHeader), 0x05, 0x01, 0x02, 0, 0, 0, 0)), nil, "damaged: compressed payload"},
		{"a payload that would unpack too large", a, opts, reseal(append(append(slices.Clone(checkpointHeader), binary.AppendUvarint(nil, maxPayload+1)...), 0, 0, 0, 0)),
			nil, fmt.Sprintf("it unpacks to %d bytes, more than a checkpoint may hold (%d bytes)", maxPayload+1, maxPayload)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := FromCheckpoint(tc.a, tc.o, tc.data)
			if err == nil || l != nil {
				t.Fatalf("got a ledger and %v, want an error", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `account "acme"`) {
				t.Errorf("got %q, want it to name the account and say %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("got %v, want it to wrap %v", err, tc.is)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x10
	return c
}

// Damage that the checksum does not catch (bytes rewritten and the
// checksum with them) is an error or a ledger, never a panic, however the
// bytes are changed.
func TestCheckpointDamageNeverPanics(t *testing.T) {
	a, opts, cp := checkpointOf(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	payload := payloadOf(t, cp)
	refused := 0
	for i := range n {
		// The payload damaged, or (every fourth) the packed bytes.
		c, packed := slices.Clone(payload), i%4 == 3
		if packed {
			c = slices.Clone(cp[len(checkpointHeader) : len(cp)-4])
		}
		switch i % 3 {
		case 0: // a few bytes changed
			for range 1 + rnd.IntN(4) {
				c[rnd.IntN(len(c))] = byte(rnd.IntN(256))
			}
		case 1: // cut short
			c = c[:rnd.IntN(len(c))]
		case 2: // a run of bytes removed
			at := rnd.IntN(len(c) - 1)
			c = append(c[:at], c[at+1+rnd.IntN(min(40, len(c)-at-1)):]...)
		}
		if packed {
			c = reseal(append(append(slices.Clone(checkpointHeader), c...), 0, 0, 0, 0))
		} else {
			c = sealed(c)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("damage %d: panic: %v", i, r)
				}
			}()
			l, err := FromCheckpoint(a, opts, c)
			if err != nil {
				refused++
				return
			}
			// A ledger that reads back must take the next poll and
			// answer without panicking too.
			now, _ := l.Newest()
			_ = views(l, now.Add(time.Hour), true)
		}()
	}
	if refused < n/2 {
		t.Errorf("only %d of %d damaged checkpoints refused", refused, n)
	}
}

// FuzzCheckpoint gives the checkpoint reader payloads the fuzzer changes,
// each packed and with its checksum made right so that it reaches the
// decoder, as damage written with its checksum would: an error, or a
// ledger that answers every view, never a panic. Seeded with a month's
// checkpoint and a day's. Run it with
//
//	go test ./internal/ledger -run '^$' -fuzz FuzzCheckpoint -fuzztime 1m
func FuzzCheckpoint(f *testing.F) {
	a, opts, cp := checkpointOf(f)
	f.Add(payloadOf(f, cp))
	day := New(a, opts)
	_, hist := lt.History(lt.ShapeGrants, time.Hour, 24)
	for _, p := range hist {
		replay(f, day, p)
	}
	f.Add(payloadOf(f, day.Checkpoint()))
	f.Fuzz(func(t *testing.T, payload []byte) {
		c := sealed(payload)
		l, err := FromCheckpoint(a, opts, c)
		if err != nil {
			if len(err.Error()) > 500 {
				t.Errorf("error of %d bytes: %.200s…", len(err.Error()), err)
			}
			return
		}
		now, _ := l.Newest()
		_ = views(l, now.Add(time.Hour), true)
		if _, err := l.Freeze(nil).Thaw(); err != nil {
			t.Errorf("a checkpoint read back does not thaw once frozen again: %v", err)
		}
	})
}

// A ledger without the grants' history (the guard's) lists none and
// answers everything else as one with it.
func TestNoGrantHistory(t *testing.T) {
	a, hist := lt.History(lt.ShapeGrants, time.Hour, 24*10)
	with := New(a, DefaultOptions())
	opts := DefaultOptions()
	opts.NoGrantHistory = true
	without := New(a, opts)
	for _, p := range hist {
		replay(t, with, p)
		replay(t, without, p)
	}
	if n, m := len(without.Grants()), len(with.Grants()); n != 0 || m == 0 {
		t.Fatalf("grant histories: got %d without and %d with, want none and some", n, m)
	}
	rest := func(s string) string {
		var b strings.Builder
		for _, line := range strings.SplitAfter(s, "\n") {
			if !strings.HasPrefix(line, "grant history ") && !strings.HasPrefix(line, "  used by ") {
				b.WriteString(line)
			}
		}
		return b.String()
	}
	now := hist[len(hist)-1].At
	if got, want := views(without, now, true), rest(views(with, now, true)); got != want {
		t.Errorf("without the grants' history the ledger answers otherwise:\n%s", lt.Diff(got, want))
	}
}
