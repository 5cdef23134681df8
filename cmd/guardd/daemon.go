package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guardd/guardd/internal/alert/slack"
	"github.com/guardd/guardd/internal/clock"
	"github.com/guardd/guardd/internal/guard"
	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/metrics"
	"github.com/guardd/guardd/internal/sdnotify"
	"github.com/guardd/guardd/internal/store"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

// daemon is guardd run: the current app (swapped on reload) on a cron
// schedule, with a metrics and health endpoint.
type daemon struct {
	cfgPath        string
	getenv         getenvFunc
	stdout, stderr io.Writer
	clk            clock.Clock
	metrics        *metrics.Metrics
	ready          atomic.Bool
	// degraded, when set, is why /readyz answers not ready although a
	// cycle completed: the last one read no account.
	degraded atomic.Pointer[string]
	// limits bound the metrics and health endpoint's clients; zero means
	// defaultHTTPLimits.
	limits httpLimits

	mu  sync.Mutex // held by a cycle and by a reload
	app *app
	// courier delivers the outbox apart from the polls; sending is held
	// by its drains, and by a reload while it closes the app it replaced.
	courier *courier
	sending sync.Mutex
	// shown is app for the pages, which read it without the lock.
	shown atomic.Pointer[app]
	// stopButtons ends the Socket Mode connections answering the app's
	// Slack buttons.
	stopButtons context.CancelFunc
	cron        *cron.Cron
	entry       cron.EntryID
	job         cron.Job
	lastPrune   time.Time
	// lastIntegrity is when the state database was last checked whole
	// (state.integrity_check); zero: not since guardd run started.
	lastIntegrity time.Time
	// fatal receives what stops guardd run from within a cycle: damage
	// found in the state database.
	fatal  chan error
	jobCtx context.Context
}

// runFlags are guardd run's flags.
type runFlags struct {
	config *string
	grace  *time.Duration
}

func (f *runFlags) define(fs *flag.FlagSet, getenv getenvFunc) {
	f.config = configFlag(fs, getenv)
	f.grace = durationFlag(fs, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long (a `DURATION`) the cycle in progress may take to finish")
}

// cmdRun is guardd run: reload delivers main's SIGHUP (nil: none).
func cmdRun(ctx context.Context, args []string, getenv getenvFunc, stdout, stderr io.Writer, reload <-chan struct{}) error {
	var f runFlags
	fs := newFlagSet("run", f.define, getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: guardd run --config FILE\n\n"+
			"Polls every account now and then on the configured cron schedule until SIGINT or SIGTERM,\n"+
			"which let the cycle in progress finish (up to --shutdown-timeout). SIGHUP reloads the\n"+
			"config; a config with problems is logged and the running one kept. Serves /metrics,\n"+
			"/healthz and /readyz on http.addr; /readyz answers 503 until a cycle has completed and\n"+
			"while the last cycle read no account. A second run on the same state refuses to start;\n"+
			"guardd check may run beside it.\n\n")
		fs.PrintDefaults()
	}
	if ok, err := parseFlags(fs, args, stderr); !ok {
		return err
	}
	if *f.config == "" {
		return usagef("run: --config is required")
	}
	d := &daemon{cfgPath: *f.config, getenv: getenv, stdout: stdout, stderr: stderr, metrics: metrics.New(build()),
		fatal: make(chan error, 1), courier: newCourier()}
	a, err := setup(ctx, *f.config, getenv, stdout, stderr, false, true, d.clk.Now())
	if err != nil {
		return err
	}
	if len(a.store.LeftOpen()) > 0 {
		d.lastIntegrity = d.clk.Now() // the open has just checked the whole file
	}
	// One daemon per SQLite file: a second run refuses to start, naming
	// the first. Checks need no lock: the outbox's claims keep them from
	// sending what the daemon sends. On PostgreSQL replicas share the
	// state: each tick's accounts are claimed among them.
	if !a.cfg.State.Postgres() {
		lock, err := store.LockDaemon(a.cfg.State.Path.Name, d.clk.Now())
		if err != nil {
			a.Close()
			return err
		}
		defer lock.Unlock()
	}
	d.app = a
	d.shown.Store(a)
	d.startButtons(ctx)
	defer func() { d.stopButtons(); d.app.Close() }()
	log := a.log
	defer log.Sync()
	prune(ctx, a, d.clk.Now())
	d.lastPrune = d.clk.Now()

	// Cycles get their own context: SIGTERM stops scheduling but lets the
	// cycle in progress finish, and only the grace timeout cancels it.
	jobCtx, cancelJobs := context.WithCancel(context.Background())
	defer cancelJobs()
	d.jobCtx = jobCtx
	cl := cronLogger{log.Sugar()}
	d.cron = cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cl))
	d.job = cron.NewChain(cron.Recover(cl), catchUp(ctx)).Then(cron.FuncJob(d.runCycle))
	sched, err := cron.ParseStandard(a.cfg.Schedule.S)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", a.cfg.Schedule.S, err)
	}
	if sched, err = replicate(ctx, a, sched, d.clk.Now()); err != nil {
		return err
	}
	d.entry = d.cron.Schedule(sched, d.job)

	srv, err := d.serve(a.cfg.HTTP.Listen(), log)
	if err != nil {
		return err
	}
	sd, err := sdnotify.New(getenv)
	if err != nil {
		return err
	}
	log.Info("guardd started", zap.String("schedule", a.cfg.Schedule.S), zap.Int("accounts", len(a.cfg.Accounts)),
		zap.Int("notifiers", len(a.cfg.Notifiers)), zap.String("state", a.cfg.State.Describe()),
		zap.String("http", a.cfg.HTTP.Listen()), zap.Bool("systemd", sd.Enabled()))
	stopDelivery, delivering := make(chan struct{}), make(chan struct{})
	go func() { defer close(delivering); d.deliverLoop(jobCtx, stopDelivery) }()
	var first sync.WaitGroup
	first.Add(1)
	go func() { defer first.Done(); d.job.Run() }()
	d.cron.Start()
	resending := make(chan struct{})
	go func() { defer close(resending); d.resendLoop(ctx) }()
	if err := sd.Send("READY=1"); err != nil {
		log.Warn("systemd notify failed", zap.Error(err))
	}
	if iv := sd.WatchdogInterval(); iv > 0 {
		go watchdog(ctx, sd, iv, log)
	}

	var fatal error
wait:
	for {
		select {
		case <-reload:
			d.reload(ctx)
		case fatal = <-d.fatal:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	if err := sd.Send("STOPPING=1"); err != nil {
		log.Warn("systemd notify failed", zap.Error(err))
	}
	log.Info("stopping: waiting for the cycle in progress", zap.Duration("timeout", *f.grace))
	d.ready.Store(false)
	done := make(chan struct{})
	go func() {
		<-d.cron.Stop().Done()
		first.Wait()
		close(stopDelivery) // what the last cycle decided is sent before exiting
		<-delivering
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(*f.grace):
		log.Warn("cycle did not finish in time; cancelling it")
		cancelJobs()
		<-done
	}
	<-resending // ctx is done: it stops, at the latest once its resend gives up
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		cancel()
	}
	log.Info("guardd stopped")
	return fatal
}

// catchUp runs one cycle at a time: a tick that comes while a cycle runs
// is not dropped but run once right after it (the ticks that come
// meanwhile fold into that one), unless ctx has ended. A cycle longer than
// the schedule's interval (a busy machine, a slow provider) makes its next
// tick late rather than missing it, and cycles never pile up; a replica's
// late cycle still belongs to its schedule's tick (guard.Guard.Tick).
func catchUp(ctx context.Context) cron.JobWrapper {
	return func(j cron.Job) cron.Job {
		var mu sync.Mutex
		running, pending := false, false
		return cron.FuncJob(func() {
			mu.Lock()
			if running {
				pending = true
				mu.Unlock()
				return
			}
			running = true
			mu.Unlock()
			for {
				j.Run()
				mu.Lock()
				again := pending && ctx.Err() == nil
				pending, running = false, again
				mu.Unlock()
				if !again {
					return
				}
			}
		})
	}
}

// runCycle is the scheduled job: it polls and decides, and leaves the
// delivery to the courier.
func (d *daemon) runCycle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.app
	a.beat.Start(d.jobCtx)
	rep, err := a.guard.Poll(d.jobCtx, d.clk.Now())
	// The metrics and /readyz say what the cycle found by the time its
	// "cycle done" line is logged: whoever reads the log and then asks
	// sees this cycle, not the one before.
	d.metrics.Observe(rep)
	d.degraded.Store(degradedReason(rep))
	d.ready.Store(true)
	err = logCycle(a.log, rep, err, false)
	if err != nil {
		a.log.Warn("cycle incomplete", zap.Error(err))
	}
	d.courier.cycleEnded(rep, err)
	resend(d.jobCtx, a, d.clk.Now())
	if now := d.clk.Now(); now.Sub(d.lastPrune) >= 24*time.Hour {
		prune(d.jobCtx, a, now)
		d.lastPrune = now
	}
	d.checkIntegrity(a)
}

// checkIntegrity checks the whole state database when state.integrity_check
// has passed since the last check, and at the first cycle unless the open
// just checked it (a daemon restarted more often than the interval still
// checks). Damage stops guardd run: it is sent on d.fatal.
func (d *daemon) checkIntegrity(a *app) {
	every, now := a.cfg.State.IntegrityCheck.Duration, d.clk.Now()
	if every <= 0 || (!d.lastIntegrity.IsZero() && now.Sub(d.lastIntegrity) < every) {
		return
	}
	if err := checkIntegrity(d.jobCtx, a); err != nil {
		select {
		case d.fatal <- err:
		default:
		}
		return
	}
	d.lastIntegrity = now
}

// resendLoop sends the firing alerts again between cycles, every
// interval the receivers that need it ask for (lifecycle.ResendEvery;
// Alertmanager's resend_interval, 1m by default), until ctx ends. Cycles
// may be hours apart; an Alertmanager that restarted meanwhile would know
// of no alert until the next one. It holds the lock a cycle and a reload
// hold, so that it never reads the alerts while a cycle changes them (a
// resend read before a resolution and sent after it would fire the alert
// again), and it follows a reload's receivers and interval.
func (d *daemon) resendLoop(ctx context.Context) {
	for {
		d.mu.Lock()
		every := lifecycle.ResendEvery(d.app.receivers)
		d.mu.Unlock()
		if every <= 0 {
			every = time.Minute // no receiver needs it; a reload may add one
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		d.mu.Lock()
		resend(ctx, d.app, d.clk.Now())
		d.mu.Unlock()
	}
}

// reload loads the config again and, if it has no problem, swaps it in
// between cycles; otherwise the running config stays and the problems are
// logged.
func (d *daemon) reload(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.app
	old.log.Info("reloading config", zap.String("config", d.cfgPath))
	// The new app opens its own connection to the same database; the old
	// one is closed once the new one is in place.
	next, err := setup(ctx, d.cfgPath, d.getenv, d.stdout, d.stderr, false, true, d.clk.Now())
	if err != nil {
		old.log.Error("config reload failed; keeping the running config", zap.Error(err))
		return
	}
	sched, err := cron.ParseStandard(next.cfg.Schedule.S)
	if err == nil {
		sched, err = replicate(ctx, next, sched, d.clk.Now())
	}
	if err != nil {
		next.Close()
		old.log.Error("config reload failed; keeping the running config", zap.Error(err))
		return
	}
	if next.cfg.HTTP.Listen() != old.cfg.HTTP.Listen() {
		next.log.Warn("http.addr changes take effect at restart", zap.String("running", old.cfg.HTTP.Listen()))
	}
	d.cron.Remove(d.entry)
	d.entry = d.cron.Schedule(sched, d.job)
	d.stopButtons()
	d.app = next
	d.shown.Store(next)
	d.startButtons(ctx)
	d.sending.Lock() // a drain in progress ends on the app it began with
	old.Close()
	d.sending.Unlock()
	next.log.Info("config reloaded", zap.String("schedule", next.cfg.Schedule.S), zap.Int("accounts", len(next.cfg.Accounts)))
}

// startButtons answers the Slack buttons (Acknowledge, Silence 24 h) of every
// Slack notifier with an app-level token, over Socket Mode: an outbound
// connection, so no public endpoint is needed. Presses are recorded in the
// state store.
func (d *daemon) startButtons(ctx context.Context) {
	bctx, cancel := context.WithCancel(ctx)
	d.stopButtons = cancel
	a := d.app
	if a.store == nil {
		return
	}
	for _, n := range a.cfg.Notifiers {
		sc, ok := n.Config.(*slack.Config)
		if !ok || !sc.Buttons() {
			continue
		}
		log := a.log.With(zap.String("receiver", n.Name))
		in := slack.NewInteractions(slack.InteractionsOptions{BotToken: sc.BotToken.Value, AppToken: sc.AppToken.Value, APIURL: sc.APIURL.S,
			Actions: lifecycle.StoreActions{Store: a.store.Lifecycle(), Clock: d.clk}, Log: log})
		go func() {
			if err := in.Run(bctx); err != nil && bctx.Err() == nil {
				log.Error("slack buttons stopped", zap.Error(err))
			}
		}()
	}
}

// degradedReason says why the daemon is not ready after the cycle rep
// reported: every account failed (the cycle read none); nil otherwise.
func degradedReason(rep guard.Report) *string {
	if rep.Polled > 0 || len(rep.Failed) == 0 {
		return nil
	}
	names := make([]string, len(rep.Failed))
	for i, f := range rep.Failed {
		names[i] = f.Account
	}
	why := fmt.Sprintf("degraded: the last cycle (%s) read none of the %d accounts (%s); the log's \"account not read\" lines say why",
		rep.At.UTC().Format(time.RFC3339), len(rep.Failed), strings.Join(names, ", "))
	return &why
}

// httpLimits bound what one client of the metrics and health endpoint may
// hold: the time to send the request's headers and the whole request, to
// take the answer, an idle keep-alive connection, and the headers' size.
// The Deployment listens on 0.0.0.0.
type httpLimits struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxHeaderBytes                int
}

// defaultHTTPLimits are generous for Prometheus and the kubelet, whose
// requests are a few hundred bytes with no body, and whose scrapes take
// milliseconds.
var defaultHTTPLimits = httpLimits{ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: 20 * time.Second,
	Idle: 30 * time.Second, MaxHeaderBytes: 8 << 10}

// serve starts the metrics and health endpoint; "" means none.
func (d *daemon) serve(addr string, log *zap.Logger) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "not ready: no cycle has completed yet", http.StatusServiceUnavailable)
			return
		}
		if why := d.degraded.Load(); why != nil {
			http.Error(w, *why, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /", d.pages(log))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on http.addr %s: %w", addr, err)
	}
	l := d.limits
	if l == (httpLimits{}) {
		l = defaultHTTPLimits
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: l.ReadHeader, ReadTimeout: l.Read, WriteTimeout: l.Write,
		IdleTimeout: l.Idle, MaxHeaderBytes: l.MaxHeaderBytes}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http endpoint stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics and health", zap.String("addr", ln.Addr().String()))
	return srv, nil
}

// watchdog pings systemd until ctx ends, so a hung process is restarted.
func watchdog(ctx context.Context, sd *sdnotify.Notifier, every time.Duration, log *zap.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := sd.Send("WATCHDOG=1"); err != nil {
				log.Warn("systemd watchdog ping failed", zap.Error(err))
			}
		}
	}
}

// cronLogger adapts zap to robfig/cron's logger.
type cronLogger struct{ s *zap.SugaredLogger }

func (l cronLogger) Info(msg string, kv ...any) { l.s.Debugw(msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.s.Errorw(msg, append(kv, "error", err)...)
}
