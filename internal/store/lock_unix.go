//go:build unix

package store

import (
	"errors"
	"os"
	"syscall"
)

// errLocked is tryLock's error when another open file holds the lock.
var errLocked = syscall.EWOULDBLOCK

// canLock says that tryLock and tryShared tell a lock held elsewhere.
const canLock = true

// tryLock takes an exclusive flock on f without waiting.
func tryLock(f *os.File) error { return flock(f, syscall.LOCK_EX|syscall.LOCK_NB) }

// tryShared takes a shared flock on f without waiting: it fails with
// errLocked while another open file holds an exclusive one.
func tryShared(f *os.File) error { return flock(f, syscall.LOCK_SH|syscall.LOCK_NB) }

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
