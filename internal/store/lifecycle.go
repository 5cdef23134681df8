package store

import (
	"context"

	"github.com/guardd/guardd/internal/lifecycle"
)

// Tx keeps the lifecycle's book and outbox, so that an account's poll, the
// alerts decided from it and the notifications due are written in one
// transaction.
var _ lifecycle.Tx = (*Tx)(nil)

// Lifecycle returns s as the lifecycle's Store. Its transactions are this
// package's *Tx, which also keep history.
func (s *Store) Lifecycle() lifecycle.Store { return lifecycleStore{s} }

type lifecycleStore struct{ s *Store }

func (l lifecycleStore) Update(ctx context.Context, fn func(lifecycle.Tx) error) error {
	return l.s.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

// UpdateAccount is Update for the transaction of one account's poll
// (Store.UpdateAccount).
func (l lifecycleStore) UpdateAccount(ctx context.Context, account string, fn func(lifecycle.Tx) error) error {
	return l.s.UpdateAccount(ctx, account, func(tx *Tx) error { return fn(tx) })
}

func (l lifecycleStore) View(ctx context.Context, fn func(lifecycle.Tx) error) error {
	return l.s.View(ctx, func(tx *Tx) error { return fn(tx) })
}
