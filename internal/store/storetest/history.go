package storetest

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/guardd/guardd/internal/billing"
	lt "github.com/guardd/guardd/internal/ledger/ledgertest"
	"github.com/guardd/guardd/internal/store"
)

// Stored writes a state database at path holding polls for every account
// (each observation named after the account), as a guardd that wrote no
// ledger checkpoints leaves it, with a retention long enough to keep them
// all. It writes to path.tmp and renames it when done, so that a database
// at path is whole.
func Stored(t testing.TB, path string, accounts []billing.Account, polls []lt.Poll) {
	t.Helper()
	ctx := context.Background()
	tmp := path + ".tmp"
	os.Remove(tmp)
	st, err := store.Open(ctx, tmp, store.Options{Retention: 10 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, acct := range accounts {
		err := st.Update(ctx, func(tx *store.Tx) error {
			for _, p := range polls {
				sp := store.Poll{Account: acct.Name, At: p.At, OK: p.Err == nil}
				if p.Err != nil {
					sp.Error = p.Err.Error()
				} else {
					o := p.Obs
					o.Account = acct.Name
					if err := tx.AppendObservation(acct, o); err != nil {
						return err
					}
				}
				if err := tx.RecordPoll(sp); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Copy copies the database file from to to, so that a test changes a copy
// of a database built once.
func Copy(t testing.TB, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	// On disk before it is used: a benchmark timing what reads the copy
	// (a year's state is a gigabyte) would otherwise time the kernel
	// writing it back too.
	if err := dst.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
