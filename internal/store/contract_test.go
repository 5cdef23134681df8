package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/lifecycle/lifecycletest"
	"github.com/guardd/guardd/internal/store"
	"github.com/guardd/guardd/internal/store/pgtest"
)

// TestLifecycleContract runs the lifecycle's port contract against the
// store on each of its databases.
func TestLifecycleContract(t *testing.T) {
	t.Run(store.DriverSQLite, func(t *testing.T) {
		lifecycletest.Run(t, func(t *testing.T) lifecycle.Store {
			st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st.Lifecycle()
		})
	})
	t.Run(store.DriverPostgres, func(t *testing.T) {
		lifecycletest.Run(t, func(t *testing.T) lifecycle.Store {
			st, err := store.OpenPostgres(context.Background(), pgtest.DSN(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st.Lifecycle()
		})
	})
}
