//go:build !unix

package store

import (
	"errors"
	"os"
)

// errLocked is never returned here.
var errLocked = errors.New("locked")

// tryLock cannot lock here: two daemons on one state are not refused.
func tryLock(*os.File) error { return nil }
