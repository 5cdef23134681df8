package store

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestLedgerCheckpoints(t *testing.T) { eachBackend(t, testLedgerCheckpoints) }

func testLedgerCheckpoints(t *testing.T, b backend) {
	s := b.open(t, Options{})
	view(t, s, func(tx *Tx) error {
		if _, ok, err := tx.LedgerCheckpoint("acme"); ok || err != nil {
			t.Errorf("before any: got a checkpoint (%v), want none", err)
		}
		return nil
	})
	first := LedgerCheckpoint{Account: "acme", Version: 1, Fingerprint: "f1", At: t0, Data: []byte("GLCP\x01one")}
	second := LedgerCheckpoint{Account: "acme", Version: 2, Fingerprint: "f2", At: t0.Add(15 * time.Minute), Data: []byte{0, 1, 2, 255}}
	other := LedgerCheckpoint{Account: "beta", Version: 1, Fingerprint: "f1", At: t0, Data: []byte("beta")}
	update(t, s, func(tx *Tx) error { return tx.PutLedgerCheckpoint(first) })
	update(t, s, func(tx *Tx) error {
		if err := tx.PutLedgerCheckpoint(other); err != nil {
			return err
		}
		return tx.PutLedgerCheckpoint(second)
	})
	view(t, s, func(tx *Tx) error {
		for _, want := range []LedgerCheckpoint{second, other} {
			got, ok, err := tx.LedgerCheckpoint(want.Account)
			if err != nil || !ok {
				t.Fatalf("%s: got none (%v)", want.Account, err)
			}
			if got.Account != want.Account || got.Version != want.Version || got.Fingerprint != want.Fingerprint ||
				!got.At.Equal(want.At) || !bytes.Equal(got.Data, want.Data) {
				t.Errorf("%s: got %+v, want %+v (the latest put)", want.Account, got, want)
			}
		}
		return nil
	})
	update(t, s, func(tx *Tx) error { return tx.DeleteLedgerCheckpoint("acme") })
	view(t, s, func(tx *Tx) error {
		if _, ok, err := tx.LedgerCheckpoint("acme"); ok || err != nil {
			t.Errorf("after deleting: got a checkpoint (%v), want none", err)
		}
		if _, ok, err := tx.LedgerCheckpoint("beta"); !ok || err != nil {
			t.Errorf("after deleting acme's: beta's is gone (%v)", err)
		}
		return nil
	})
}

func TestLedgerCheckpointRefusesWhatIsIncomplete(t *testing.T) {
	eachBackend(t, testLedgerCheckpointRefusesWhatIsIncomplete)
}

func testLedgerCheckpointRefusesWhatIsIncomplete(t *testing.T, b backend) {
	s := b.open(t, Options{})
	good := LedgerCheckpoint{Account: "acme", Version: 1, Fingerprint: "f", At: t0, Data: []byte("x")}
	for _, tc := range []struct {
		name string
		edit func(*LedgerCheckpoint)
		want string
	}{
		{"no account", func(c *LedgerCheckpoint) { c.Account = "" }, `store ledger checkpoint of account "": empty account`},
		{"no version", func(c *LedgerCheckpoint) { c.Version = 0 }, `store ledger checkpoint of account "acme": version must be positive (got 0)`},
		{"no fingerprint", func(c *LedgerCheckpoint) { c.Fingerprint = "" }, `store ledger checkpoint of account "acme": empty fingerprint`},
		{"no data", func(c *LedgerCheckpoint) { c.Data = nil }, `store ledger checkpoint of account "acme": no data`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := s.Update(context.Background(), func(tx *Tx) error { return tx.PutLedgerCheckpoint(c) })
			wantErr(t, err, tc.want)
		})
	}
	err := s.View(context.Background(), func(tx *Tx) error { return tx.PutLedgerCheckpoint(good) })
	if err == nil {
		t.Error("put in a read transaction: got no error")
	}
}
