package imap

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// session is one connection. Every exchange goes through do, which bounds
// it by the timeout and the caller's ctx.
type session struct {
	conn    net.Conn // the TCP connection, closed to abort anything
	c       *imapclient.Client
	timeout time.Duration
}

// dial connects, encrypts as configured and waits for the greeting.
func (r *Reader) dial(ctx context.Context) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", r.addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &session{conn: conn, timeout: r.o.Timeout}
	// No DebugWriter, ever: the traffic holds the password or token.
	opts := &imapclient.Options{TLSConfig: r.tlsConfig()}
	switch r.o.TLS {
	case Implicit:
		tc := tls.Client(conn, opts.TLSConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		s.c = imapclient.New(tc, opts)
	case StartTLS:
		err = s.do(ctx, "starttls", func() (err error) {
			s.c, err = imapclient.NewStartTLS(conn, opts)
			return err
		})
		if err != nil {
			conn.Close()
			return nil, err
		}
	default:
		s.c = imapclient.New(conn, opts)
	}
	if err := s.do(ctx, "greeting", s.c.WaitGreeting); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (r *Reader) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if r.o.TLSConfig != nil {
		cfg = r.o.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = r.o.Host
	}
	if cfg.NextProtos == nil {
		cfg.NextProtos = []string{"imap"}
	}
	return cfg
}

// login authenticates with the password (LOGIN) or the token (XOAUTH2).
func (r *Reader) login(ctx context.Context, s *session) error {
	if !r.o.OAuthToken.IsZero() {
		x := &xoauth2{user: r.o.Username, token: r.o.OAuthToken}
		return s.do(ctx, "authenticate xoauth2 as "+r.o.Username, func() error {
			err := s.c.Authenticate(x)
			if err != nil && x.failed != "" {
				err = fmt.Errorf("%w (token refused: status %s)", err, x.failed)
			}
			return err
		})
	}
	return s.do(ctx, "log in as "+r.o.Username, func() error {
		return s.c.Login(r.o.Username, r.o.Password.Reveal()).Wait()
	})
}

// do runs f, the exchange called what, within the timeout and ctx: when
// either ends first the connection is closed, which ends f, and the error
// says which.
func (s *session) do(ctx context.Context, what string, f func() error) error {
	return s.stream(ctx, what, func(func()) error { return f() })
}

// stream is do for an exchange that moves much data: each call of alive
// (on every piece received) restarts the timeout, so that it bounds a
// silence, not a slow transfer.
func (s *session) stream(ctx context.Context, what string, f func(alive func()) error) error {
	const (
		timedOut = 1 + iota
		cancelled
	)
	var why atomic.Int32
	timer := time.AfterFunc(s.timeout, func() {
		why.CompareAndSwap(0, timedOut)
		s.conn.Close()
	})
	stop := context.AfterFunc(ctx, func() {
		why.CompareAndSwap(0, cancelled)
		s.conn.Close()
	})
	err := f(func() { timer.Reset(s.timeout) })
	timer.Stop()
	stop()
	// When the connection was closed under f, say why, not how f noticed.
	switch why.Load() {
	case timedOut:
		return fmt.Errorf("%s: no answer within %s: %w", what, s.timeout, context.DeadlineExceeded)
	case cancelled:
		return fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// logout says goodbye; the messages are read, so a failure here is not
// the Read's.
func (s *session) logout(ctx context.Context) {
	_ = s.do(ctx, "logout", func() error { return s.c.Logout().Wait() })
}

// close drops the connection.
func (s *session) close() {
	if s.c == nil {
		s.conn.Close()
		return
	}
	// An error closing is not the Read's: its result is decided already.
	_ = s.c.Close()
}
