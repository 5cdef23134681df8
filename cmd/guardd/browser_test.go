package main

// The pages in a real browser: Debian's headless Chromium, driven through
// the DevTools protocol by github.com/chromedp/chromedp (pure Go, no
// driver binary or Node to install, and it speaks to the chromium that
// .ci/run installs; a WebDriver client would need chromedriver beside it).
// One browser serves every page, each in its own tab.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// screenshotDirEnv names the folder the browser test writes a screenshot
// of each page to; by default a new temporary folder, named in the log.
const screenshotDirEnv = "GUARDD_SCREENSHOT_DIR"

// chromiumPath returns Debian's chromium, or skips the test when it is
// not installed.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium is not installed (apt-get install chromium): the pages are not checked in a browser")
	return ""
}

// startBrowser starts one headless Chromium, with its profile in dir, and
// returns its context and what ends it.
func startBrowser(path, dir string) (context.Context, func(), error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1280, 1200),
		chromedp.UserDataDir(dir), chromedp.Flag("disable-gpu", true))
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox; the pages are
		// ours, on 127.0.0.1.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	stop := func() { cancelBrowser(); cancelAlloc() }
	// Start it now, so that a browser that cannot start says so here.
	if err := chromedp.Do(bctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start %s: %w", path, err)
	}
	return bctx, stop, nil
}

// screenshotDir is where the test writes screenshots.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(screenshotDirEnv)
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "guardd-screenshots-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of the pages: %s (set %s to choose the folder)", dir, screenshotDirEnv)
	return dir
}

// tab is a tab of the browser that records the console errors, the
// uncaught exceptions and the browser's error log entries (a resource that
// failed to load, a blocked request) of its pages.
type tab struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newTab(t *testing.T, bctx context.Context, jsOff, dark bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				tb.mu.Lock()
				tb.errors = append(tb.errors, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				tb.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	if jsOff {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("turn JavaScript off: %v", err)
		}
	}
	return tb
}

func (tb *tab) errs() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.errors...)
}

// load opens url in the tab, waits for the page and reads its HTML
// through the DOM (no script runs for it); given a file, it writes a
// screenshot (PNG) to it: of the whole page when full, else of the window
// (1280×1200, the header, the figures and the timeline), since a whole
// page takes several times as long.
func (tb *tab) load(t *testing.T, url, file string, full bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	if file == "" {
		return html
	}
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", url, err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return html
}

// Every page loads in Chromium without a console error, light and dark,
// and reads the same with JavaScript off; the hourly-recharge account's
// timeline marks each recharge once; the keyboard reaches the skip link
// first. guardd report's file opens from disk alone. A screenshot of each
// page is kept. One browser serves it all.
func TestPagesInBrowser(t *testing.T) {
	t.Parallel()
	path := chromiumPath(t)
	// The browser starts while the examples are played into the state.
	type started struct {
		ctx  context.Context
		stop func()
		err  error
	}
	ready := make(chan started, 1)
	profile := t.TempDir()
	go func() {
		ctx, stop, err := startBrowser(path, profile)
		ready <- started{ctx, stop, err}
	}()
	slack := newRecordingSlack(t)
	dir := t.TempDir()
	cfg := examplesConfig(t, dir)
	getenv := slackEnv(slack.srv.URL + "/services/T0/B0/secret")
	seedExamples(t, cfg, getenv)
	base := startDaemon(t, cfg, getenv)
	b := <-ready
	if b.err != nil {
		t.Fatal(b.err)
	}
	t.Cleanup(b.stop)
	shots := screenshotDir(t)

	pages := []struct{ name, path string }{{"overview", "/"}, {"alerts", "/alerts"}}
	files, _ := filepath.Glob(filepath.Join("examples", "*.json"))
	for _, f := range files {
		name := readHistory(t, f).Account.Name
		pages = append(pages, struct{ name, path string }{"account-" + name, "/accounts/" + name})
	}
	const hourly = "/accounts/acme-openai"
	wantMarkers := hourlyRecharges(t)
	background := make(map[string]string)

	for _, mode := range []struct {
		suffix      string
		jsOff, dark bool
	}{{"", false, false}, {"-dark", false, true}, {"-nojs", true, false}} {
		tb := newTab(t, b.ctx, mode.jsOff, mode.dark)
		for _, p := range pages {
			// Every page, light and without JavaScript; in dark the
			// overview and the hourly account. A screenshot of every
			// light page (the hourly account's whole), and of the hourly
			// account in the other modes: screenshots take most of the
			// test's time.
			if mode.dark && p.path != "/" && p.path != hourly {
				continue
			}
			file := ""
			if mode.suffix == "" || p.path == hourly {
				file = filepath.Join(shots, p.name+mode.suffix+".png")
				t.Logf("%s%s: %s", p.path, mode.suffix, file)
			}
			html := tb.load(t, base+p.path, file, p.path == hourly && mode.suffix == "")
			if mode.suffix == "" {
				_, body := get(t, base+p.path)
				t.Logf("%s: %d bytes served", p.path, len(body))
			}
			if !strings.Contains(html, "<h1") || !strings.Contains(html, "</table>") {
				t.Errorf("%s%s: the page shows no heading or table:\n%.1500s", p.path, mode.suffix, html)
			}
			if p.path != hourly {
				continue
			}
			n, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSSAll("svg a.rc[href]"), chromedp.AtLeast(0)))
			if err != nil {
				t.Fatal(err)
			}
			if len(n) != wantMarkers || wantMarkers == 0 {
				t.Errorf("%s%s: the timeline marks %d recharges, want %d (one per recharge)", p.path, mode.suffix, len(n), wantMarkers)
			}
			if mode.jsOff {
				continue
			}
			bg, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
			if err != nil {
				t.Fatal(err)
			}
			background[mode.suffix] = bg
			if err := chromedp.Do(tb.ctx, chromedp.KeyEvent("\t")); err != nil {
				t.Fatal(err)
			}
			focused, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.activeElement.className + " " + document.activeElement.textContent`))
			if err != nil {
				t.Fatal(err)
			}
			if focused != "skip Skip to the content" {
				t.Errorf("%s%s: the first Tab focuses %q, want the skip link", p.path, mode.suffix, focused)
			}
		}
		if errs := tb.errs(); len(errs) > 0 {
			t.Errorf("browser errors%s:\n%s", mode.suffix, strings.Join(errs, "\n"))
		}
	}
	// guardd report's file opens from disk with no server: the same
	// markers, no error (the page would report anything it could not
	// fetch).
	report := filepath.Join(shots, "report-acme-openai.html")
	if _, _, err := runCmd(t, nil, "report", "--config", cfg, "--account", "acme-openai", "--out", report); err != nil {
		t.Fatalf("report: %v", err)
	}
	tb := newTab(t, b.ctx, false, false)
	file := filepath.Join(shots, "report-acme-openai.png")
	t.Logf("guardd report, opened from disk: %s", file)
	tb.load(t, "file://"+report, file, false)
	n, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSSAll("svg a.rc[href]"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(n) != wantMarkers {
		t.Errorf("report: the timeline marks %d recharges, want %d", len(n), wantMarkers)
	}
	if errs := tb.errs(); len(errs) > 0 {
		t.Errorf("browser errors in the report:\n%s", strings.Join(errs, "\n"))
	}
	if background[""] == "" || background[""] == background["-dark"] {
		t.Errorf("the page's background is %q in light and %q in dark; want two colours", background[""], background["-dark"])
	}
}
