package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/guardd/guardd/internal/proc"
)

// ErrDaemonRunning is wrapped by the error of LockDaemon when another
// process holds the daemon lock of the state database.
var ErrDaemonRunning = errors.New("another guardd run uses this state")

// DaemonLock is a daemon's hold on its state database: guardd run takes it
// for as long as it runs, so that a second guardd run on the same state
// refuses to start. Checks, status and silences never take it: they share
// the database with the daemon through its transactions, and the outbox's
// claims keep them from sending what the daemon sends.
type DaemonLock struct {
	f *os.File
}

// LockDaemon takes the daemon lock of the state database at path: an
// exclusive lock (flock) on the file path+".lock" beside it, created with
// mode 0600 when missing, which the kernel drops when the process ends,
// however it ends. The file says who holds the lock (proc.Self) and since
// now. When another process holds it, the error names that process and
// wraps ErrDaemonRunning.
func LockDaemon(path string, now time.Time) (*DaemonLock, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state database: %w", err)
	}
	if err := tryLock(f); err != nil {
		defer f.Close()
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("lock state database: %s: %w", name, err)
		}
		held, _ := io.ReadAll(f)
		who := strings.TrimSpace(string(held))
		if who == "" {
			who = "a process that has not written its name yet"
		}
		return nil, fmt.Errorf("%w: %s holds %s; stop it first, or point this one at another state.path "+
			"(guardd check and status may run beside it)", ErrDaemonRunning, who, name)
	}
	l := &DaemonLock{f: f}
	if err := l.write(fmt.Sprintf("%s (since %s)\n", proc.Self(), now.UTC().Format(time.RFC3339))); err != nil {
		l.Unlock()
		return nil, fmt.Errorf("lock state database: %s: %w", name, err)
	}
	return l, nil
}

// write replaces what the lock file says.
func (l *DaemonLock) write(s string) error {
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(s), 0)
	return err
}

// Unlock releases the lock, leaving the file (empty) in place: removing it
// would race with a process about to lock it.
func (l *DaemonLock) Unlock() error {
	l.write("")
	return l.f.Close() // closing drops the lock
}
