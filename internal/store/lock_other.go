//go:build !unix

package store

import (
	"errors"
	"os"
)

// errLocked is never returned here.
var errLocked = errors.New("locked")

// canLock is false: tryLock and tryShared cannot tell a lock held
// elsewhere, so Open checks every file it opens (see marker.go).
const canLock = false

// tryLock cannot lock here: two daemons on one state are not refused.
func tryLock(*os.File) error { return nil }

// tryShared cannot lock here either.
func tryShared(*os.File) error { return nil }
