// Package sdnotify tells systemd about the service's state (sd_notify):
// READY=1 once started, STOPPING=1 on shutdown, and WATCHDOG=1 pings when the
// unit sets WatchdogSec. Outside systemd (no NOTIFY_SOCKET) every call is a
// no-op, so the daemon needs no special mode.
package sdnotify

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Notifier sends state to systemd's notify socket.
type Notifier struct {
	socket   string
	watchdog time.Duration
}

// New reads NOTIFY_SOCKET and WATCHDOG_USEC through getenv.
func New(getenv func(string) (string, bool)) (*Notifier, error) {
	n := &Notifier{}
	if s, ok := getenv("NOTIFY_SOCKET"); ok && s != "" {
		n.socket = s
		if s[0] == '@' { // abstract socket
			n.socket = "\x00" + s[1:]
		}
	}
	if us, ok := getenv("WATCHDOG_USEC"); ok && us != "" && n.socket != "" {
		v, err := strconv.ParseInt(us, 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("WATCHDOG_USEC: want a positive number of microseconds, got %q", us)
		}
		n.watchdog = time.Duration(v) * time.Microsecond
	}
	return n, nil
}

// Enabled reports whether systemd is listening.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// WatchdogInterval is how often to ping: half the unit's WatchdogSec, or 0
// when the watchdog is off.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog / 2 }

// Send sends one state line such as "READY=1"; it does nothing outside
// systemd.
func (n *Notifier) Send(state string) error {
	if n.socket == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
