// Package browsertest drives a real headless Chromium from Go tests and checks
// every page it visits with axe-core, so that accessibility regressions fail
// the build like any other bug.
//
// A test starts one browser with [New], opens a tab with [Browser.Page], and
// visits pages of a server it started itself (usually httptest.NewServer):
//
//	b := browsertest.New(t)
//	p := b.Page(t)
//	p.Visit(t, srv.URL+"/apply")           // fails the test on any axe violation
//	p.Run(t, chromedp.SendKeys(chromedp.CSS("#name"), "Ada"),
//		chromedp.Click(chromedp.CSS("button[type=submit]")),
//		chromedp.WaitVisible(chromedp.CSS("h1")))
//	p.CheckA11y(t)                          // check the page reached by the form
//
// Starting Chromium costs about a second, so start one [Browser] per top-level
// test and open a [Page] per subtest; pages of one browser may run in parallel.
//
// # Requirements and the skip policy
//
// The harness needs a Chromium binary and axe-core's axe.min.js:
//
//   - Chromium: $PORTICO_CHROMIUM, else the first of chromium,
//     chromium-browser, google-chrome, google-chrome-stable on $PATH
//     (Debian: apt-get install -y chromium).
//   - axe-core: $PORTICO_AXE_JS, else node_modules/axe-core/axe.min.js in the
//     working directory or one of its parents (run npm ci at the repository
//     root; the version is pinned in package-lock.json).
//
// When either is missing, [New] skips the test, so `go test ./...` works on a
// machine with only Go. CI sets PORTICO_TEST_BROWSER=1, which turns the skip
// into a failure: there the browser tests must run.
//
// Axe runs the rules tagged wcag2a, wcag2aa, wcag21a, wcag21aa and wcag22aa
// (see [AxeTags]); best-practice rules and "incomplete" (needs review) results
// are not reported.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Environment variables read by [New].
const (
	// EnvChromium names the Chromium (or Chrome) binary to use.
	EnvChromium = "PORTICO_CHROMIUM"
	// EnvAxeJS names the axe.min.js file to inject into pages.
	EnvAxeJS = "PORTICO_AXE_JS"
	// EnvRequire, when "1" (or "true"), makes a missing Chromium or axe-core
	// fail the test instead of skipping it. CI sets it.
	EnvRequire = "PORTICO_TEST_BROWSER"
)

// AxeTags are the axe-core rule tags that [Page.Violations] runs.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// Timeouts. Actions wait for elements to appear, so a selector that never
// matches would otherwise hang the test until go test's own timeout.
const (
	startTimeout  = 60 * time.Second // starting Chromium
	actionTimeout = 30 * time.Second // one Visit, Run, Text, Violations, ...
	closeTimeout  = 10 * time.Second // closing Chromium
)

// Viewport is the size of the window each [Page] emulates (a desktop
// browser; USWDS switches to its mobile layout below 1024 CSS pixels).
const (
	ViewportWidth  = 1280
	ViewportHeight = 900
)

// chromiumNames are looked up on $PATH, in order, when $PORTICO_CHROMIUM is
// not set.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Browser is one headless Chromium process. It is closed when the test that
// created it ends.
type Browser struct {
	ctx   context.Context // chromedp context of the browser's first tab
	axeJS string          // source of axe.min.js
}

// New starts a headless Chromium for the test and closes it in t.Cleanup.
//
// It skips the test when Chromium or axe-core cannot be found, or fails it
// when $PORTICO_TEST_BROWSER=1; see the package documentation.
func New(t testing.TB) *Browser {
	t.Helper()

	chromium, chromiumErr := findChromium()
	axePath, axeErr := findAxe()
	if err := errors.Join(chromiumErr, axeErr); err != nil {
		msg := fmt.Sprintf("browsertest: %v\n"+
			"To run browser tests: apt-get install -y chromium (or set %s=/path/to/chrome), "+
			"and run npm ci at the repository root (or set %s=/path/to/axe.min.js).",
			strings.ReplaceAll(err.Error(), "\n", "; "), EnvChromium, EnvAxeJS)
		if required() {
			t.Fatalf("%s\n%s=1 is set, so browser tests must run.", msg, EnvRequire)
		}
		t.Skipf("%s\nSet %s=1 to make this a failure.", msg, EnvRequire)
	}
	axeJS, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("browsertest: reading axe-core: %v", err)
	}

	// A fresh profile per browser: nothing cached or remembered between runs.
	profile, err := os.MkdirTemp("", "portico-chromium-")
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}

	var output syncBuffer
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(ViewportWidth, ViewportHeight),
		chromedp.CombinedOutput(&output),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)

	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(ctx, closeTimeout)
		_ = chromedp.Cancel(cctx) // graceful close; errors here are not the test's
		ccancel()
		cancel()
		allocCancel() // waits for the process to exit
		_ = os.RemoveAll(profile)
	})

	// The first Do starts the browser. It must get the long-lived context
	// (not one with a timeout), so bound it from the outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: starting %s: %v\n%s", chromium, err, output.String())
		}
	case <-time.After(startTimeout):
		t.Fatalf("browsertest: %s did not start within %v\n%s", chromium, startTimeout, output.String())
	}
	return &Browser{ctx: ctx, axeJS: string(axeJS)}
}

func required() bool {
	v := os.Getenv(EnvRequire)
	return v == "1" || strings.EqualFold(v, "true")
}

func findChromium() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("%s=%s: Chromium not found: %v", EnvChromium, p, err)
		}
		return path, nil
	}
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("no Chromium on $PATH (looked for %s; %s is not set)",
		strings.Join(chromiumNames, ", "), EnvChromium)
}

func findAxe() (string, error) {
	if p := os.Getenv(EnvAxeJS); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: axe-core not found: %v", EnvAxeJS, p, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("axe-core not found (no node_modules/axe-core/axe.min.js in the working directory or its parents; %s is not set)", EnvAxeJS)
		}
		dir = parent
	}
}

// Page is one browser tab. It is closed when the test that opened it ends.
// A Page must not be used from more than one goroutine at a time.
type Page struct {
	ctx   context.Context
	axeJS string

	mu       sync.Mutex
	frameID  cdp.FrameID // main frame; equals the target ID for a tab
	status   int         // HTTP status of the last main-frame document
	messages []string    // console errors since the last Visit/Navigate
}

// Page opens a new tab with a 1280×900 viewport. The tab is closed in
// t.Cleanup, so a subtest may open its own page of a shared Browser.
func (b *Browser) Page(t testing.TB) *Page {
	t.Helper()
	p := &Page{axeJS: b.axeJS}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(p.event))
	t.Cleanup(cancel)
	// The first Do creates the tab and must get the long-lived context.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("browsertest: opening a tab: %v", err)
		}
	case <-time.After(actionTimeout):
		t.Fatalf("browsertest: opening a tab took longer than %v", actionTimeout)
	}
	p.ctx = ctx
	p.mu.Lock()
	p.frameID = cdp.FrameID(chromedp.FromContext(ctx).Target.TargetID)
	p.mu.Unlock()
	p.Run(t, chromedp.EmulateViewport(ViewportWidth, ViewportHeight))
	return p
}

// event runs on chromedp's read loop for the tab: it must be quick and must
// not run commands.
func (p *Page) event(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventResponseReceived:
		if ev.Type == network.ResourceTypeDocument && ev.FrameID == p.frameID && ev.Response != nil {
			p.status = int(ev.Response.Status)
		}
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil && e.Level == log.EntryLevelError {
			msg := string(e.Source) + ": " + e.Text
			if e.URL != "" && !strings.Contains(e.Text, e.URL) {
				msg += " (" + e.URL + ")"
			}
			p.messages = append(p.messages, msg)
		}
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			p.messages = append(p.messages, "exception: "+msg)
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				switch {
				case a == nil:
				case a.Description != "":
					parts = append(parts, a.Description)
				case len(a.Value) > 0:
					parts = append(parts, strings.Trim(string(a.Value), `"`))
				default:
					parts = append(parts, string(a.Type))
				}
			}
			p.messages = append(p.messages, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	}
}

// timeout returns a context for one operation on the page.
func (p *Page) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, actionTimeout)
}

// Navigate loads url, waits for the load event and returns the HTTP status
// of the document. It does not run axe; most tests want [Page.Visit].
func (p *Page) Navigate(t testing.TB, url string) int {
	t.Helper()
	p.mu.Lock()
	p.messages = nil
	p.mu.Unlock()
	ctx, cancel := p.timeout()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("browsertest: navigating to %s: %v", url, err)
	}
	status := 0
	if resp != nil {
		status = int(resp.Status)
	}
	p.mu.Lock()
	p.status = status
	p.mu.Unlock()
	return status
}

// Visit loads url, waits for the load event and fails the test (without
// stopping it) if axe-core reports any WCAG 2.2 A/AA violation. It does not
// check the HTTP status; see [Page.Status].
func (p *Page) Visit(t testing.TB, url string) {
	t.Helper()
	p.Navigate(t, url)
	p.CheckA11y(t)
}

// CheckA11y runs axe-core on the current page, for example after [Page.Run]
// opened a menu or submitted a form, and reports each violation with
// t.Errorf.
func (p *Page) CheckA11y(t testing.TB) {
	t.Helper()
	if vs := p.Violations(t); len(vs) > 0 {
		loc := p.Location(t)
		t.Errorf("%s", FormatViolations(loc, vs))
	}
}

// Violation is one axe-core rule that failed, with the elements that fail it.
type Violation struct {
	ID          string          `json:"id"`     // rule id, e.g. "image-alt"
	Impact      string          `json:"impact"` // minor, moderate, serious or critical
	Description string          `json:"description"`
	Help        string          `json:"help"`
	HelpURL     string          `json:"helpUrl"`
	Tags        []string        `json:"tags"`
	Nodes       []ViolationNode `json:"nodes"`
}

// ViolationNode is one element that fails a rule.
type ViolationNode struct {
	// Target holds CSS selectors for the element. It has more than one
	// entry when the element is inside iframes or shadow roots, or it is
	// joined with " >>> " for a shadow DOM path.
	Target         []string `json:"target"`
	HTML           string   `json:"html"`
	FailureSummary string   `json:"failureSummary"`
}

// axeRun runs axe on the document and returns the violations in the shape
// of []Violation.
var axeRun = `(async () => {
	const results = await axe.run(document, {
		runOnly: {type: 'tag', values: ` + jsStrings(AxeTags) + `},
		resultTypes: ['violations'],
	});
	return results.violations.map(v => ({
		id: v.id,
		impact: v.impact || '',
		description: v.description || '',
		help: v.help || '',
		helpUrl: v.helpUrl || '',
		tags: v.tags || [],
		nodes: (v.nodes || []).map(n => ({
			target: (n.target || []).map(s => Array.isArray(s) ? s.join(' >>> ') : String(s)),
			html: n.html || '',
			failureSummary: n.failureSummary || '',
		})),
	}));
})()`

func jsStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + s + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Violations runs axe-core on the current page and returns what it found,
// without failing the test for them. It fails the test only if axe cannot
// run.
func (p *Page) Violations(t testing.TB) []Violation {
	t.Helper()
	ctx, cancel := p.timeout()
	defer cancel()
	// Inject axe into this document unless it is already there. DevTools
	// evaluation is not subject to the page's Content-Security-Policy.
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object' && typeof window.axe.run === 'function'`))
	if err != nil {
		t.Fatalf("browsertest: checking for axe-core: %v", err)
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](p.axeJS+"\n;true")); err != nil {
			t.Fatalf("browsertest: injecting axe-core: %v", err)
		}
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("browsertest: running axe-core: %v", err)
	}
	return vs
}

// FormatViolations renders violations found on the page at url as the
// multi-line message that [Page.CheckA11y] reports.
func FormatViolations(url string, vs []Violation) string {
	var b strings.Builder
	n := 0
	for _, v := range vs {
		n += len(v.Nodes)
	}
	fmt.Fprintf(&b, "axe-core: %d accessibility violation(s) (%d element(s)) on %s:", len(vs), n, url)
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  [%s] %s: %s\n    %s", v.Impact, v.ID, v.Help, v.HelpURL)
		for _, node := range v.Nodes {
			fmt.Fprintf(&b, "\n    - %s", strings.Join(node.Target, " "))
			if node.HTML != "" {
				fmt.Fprintf(&b, "  %s", truncate(node.HTML, 160))
			}
			if node.FailureSummary != "" {
				summary := strings.ReplaceAll(strings.TrimSpace(node.FailureSummary), "\n", "\n        ")
				fmt.Fprintf(&b, "\n        %s", summary)
			}
		}
	}
	return b.String()
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Run runs chromedp actions (clicks, typing, waits, ...) in the tab, failing
// the test on the first error. Actions that wait for elements time out after
// 30 seconds. To check the page reached by a click or a submit, wait for
// something on it (chromedp.WaitVisible) before calling [Page.CheckA11y].
func (p *Page) Run(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := p.timeout()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
}

// Text returns the visible text (innerText) of the first element matching
// the CSS selector, waiting for it to appear.
func (p *Page) Text(t testing.TB, selector string) string {
	t.Helper()
	return p.read(t, "text of "+strconv.Quote(selector), func() chromedp.Action[string] { return chromedp.Text(chromedp.CSS(selector)) })
}

// Value returns the current value of the form control matched by selector.
func (p *Page) Value(t testing.TB, selector string) string {
	t.Helper()
	return p.read(t, "value of "+strconv.Quote(selector), func() chromedp.Action[string] { return chromedp.Value(chromedp.CSS(selector)) })
}

// read runs a query of the document. A query that meets a document being
// replaced (a form's answer or a redirect arriving after the test saw the
// new URL) finds the node it had chosen gone; it is asked again, for a few
// seconds, before the test fails.
func (p *Page) read(t testing.TB, what string, query func() chromedp.Action[string]) string {
	t.Helper()
	for attempt := 0; ; attempt++ {
		ctx, cancel := p.timeout()
		s, err := chromedp.Run(ctx, query())
		cancel()
		if err == nil {
			return s
		}
		if attempt < 40 && replaced(err) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		t.Fatalf("browsertest: %s: %v", what, err)
	}
}

// replaced reports whether err says the document changed under a query:
// the node chosen is gone, or the target navigated.
func replaced(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "No node with given id found") || strings.Contains(msg, "navigated or closed") ||
		strings.Contains(msg, "Cannot find context with specified id")
}

// Location returns the URL of the current document.
//
// Asked while a navigation is under way (a form just submitted), Chromium
// may answer that the inspected target navigated: the question is asked
// again, for a few seconds, before the test fails.
func (p *Page) Location(t testing.TB) string {
	t.Helper()
	return p.read(t, "location", chromedp.Location)
}

// Status returns the HTTP status code of the current main document: the
// last one loaded by [Page.Visit], [Page.Navigate], or a navigation that
// [Page.Run] caused (a link, a form submission, a redirect's final
// response). It is 0 before the first navigation.
func (p *Page) Status() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// ConsoleErrors returns the errors the browser reported since the last
// [Page.Visit] or [Page.Navigate]: uncaught JavaScript exceptions,
// console.error calls, and browser log errors such as Content-Security-Policy
// violations and failed subresource loads ("Failed to load resource: ...
// 404"). A page that loads an error status itself also logs that load.
func (p *Page) ConsoleErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.messages...)
}

// Screenshot saves a PNG of the whole page (not just the viewport) to path,
// creating its directory.
func (p *Page) Screenshot(t testing.TB, path string) {
	t.Helper()
	ctx, cancel := p.timeout()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browsertest: screenshot: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
}

// Context returns the chromedp context of the tab, for the rare test that
// needs chromedp.Run with an action that returns a value. Bound it with
// context.WithTimeout.
func (p *Page) Context() context.Context { return p.ctx }

// syncBuffer collects Chromium's output, written from another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Widths are the viewport widths every page is checked at: a desktop, a
// phone, and 320 px, the narrowest WCAG 1.4.10 (reflow) asks for.
var Widths = []int64{1280, 390, 320}

// machineText is text a person should never read on a page: ISO
// timestamps and dates ("2021-03-27": a date answer or a due date not
// written by the formatter), times with seconds (Go's default format),
// "UTC", Go's formatting mistakes, unrendered template actions and
// currency codes before amounts.
var machineText = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}|\b)|\b\d{2}:\d{2}:\d{2}\b|\bUTC\b|%!|\{\{|\bUSD \d`)

// CheckEverywhere loads url at each width in widths (Widths when none is
// given) and, at each, fails the test (without stopping it) when the status
// is not 200, the page scrolls sideways, or main shows machine text; and
// axe-core reports a violation, at the first width of each of the USWDS
// layout bands (breakpoints 480, 640 and 1024 px): within a band the
// document and the style rules that apply are the same, so axe-core's
// findings are too, and running it again at 320 px after 390 px only
// costs CI time. With PORTICO_SCREENSHOTS=DIR it keeps a PNG of each
// width as DIR/NAME-WIDTH.png, for a person to look at. It leaves the
// viewport at the last width.
func (p *Page) CheckEverywhere(t testing.TB, name, url string, widths ...int64) {
	t.Helper()
	if len(widths) == 0 {
		widths = Widths
	}
	axed := map[int]bool{}
	for _, width := range widths {
		p.Run(t, chromedp.EmulateViewport(width, 900))
		if status := p.Navigate(t, url); status != 200 {
			t.Errorf("%s (%d px): status %d", url, width, status)
			continue
		}
		p.checkAt(t, name, width, !axed[band(width)])
		axed[band(width)] = true
	}
}

// CheckHere checks the page the tab shows now, without loading it again,
// as CheckEverywhere does at each width: for a page that is the answer to
// a form post (an error summary with what was typed). Its status is the
// caller's to check (an error page answers 400).
func (p *Page) CheckHere(t testing.TB, name string, widths ...int64) {
	t.Helper()
	if len(widths) == 0 {
		widths = Widths
	}
	axed := map[int]bool{}
	for _, width := range widths {
		p.Run(t, chromedp.EmulateViewport(width, 900))
		p.checkAt(t, name, width, !axed[band(width)])
		axed[band(width)] = true
	}
}

// band is the USWDS layout band a viewport width falls in: below 480 px
// (mobile), below 640 (mobile-lg), below 1024 (tablet), or desktop.
func band(width int64) int {
	switch {
	case width < 480:
		return 0
	case width < 640:
		return 1
	case width < 1024:
		return 2
	}
	return 3
}

// checkAt runs CheckEverywhere's checks on the current page at width,
// axe-core's only when a11y is set.
func (p *Page) checkAt(t testing.TB, name string, width int64, a11y bool) {
	t.Helper()
	if a11y {
		p.CheckA11y(t)
	}
	p.CheckReflow(t, width)
	if m := machineText.FindString(p.Text(t, "main")); m != "" {
		t.Errorf("%s (%d px): machine text %q on the page", p.Location(t), width, m)
	}
	if dir := os.Getenv("PORTICO_SCREENSHOTS"); dir != "" {
		file := fmt.Sprintf("%s-%d.png", strings.NewReplacer("/", "_", "?", "_", "=", "_", "&", "_").Replace(name), width)
		p.Screenshot(t, filepath.Join(dir, file))
	}
}

// CheckReflow fails the test when the current page scrolls sideways
// (WCAG 1.4.10). width only labels the message.
func (p *Page) CheckReflow(t testing.TB, width int64) {
	t.Helper()
	wide, err := chromedp.Run(p.Context(), chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if wide {
		t.Errorf("%s (%d px): the page scrolls sideways", p.Location(t), width)
	}
}
