package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromiumPath is Debian's chromium, installed by scripts/setup.
const chromiumPath = "/usr/bin/chromium"

// degradable are the API paths the console may find missing on a server
// (404/501) and must then show as "not available": the browser logs such
// an answer as a network error, which is expected for these paths only.
var degradable = []string{"/observability"}

// browserLog collects what the page reports while a test drives it.
type browserLog struct {
	origin string
	mu     sync.Mutex
	errs   []string
	reqs   int
}

func (b *browserLog) fail(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
}

func (b *browserLog) listen(ev any) {
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			b.fail("console.%s: %s", e.Type, strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.fail("exception: %s at %s:%d", msg, d.URL, d.LineNumber)
	case *log.EventEntryAdded:
		en := e.Entry
		if en.Level != log.EntryLevelError && en.Level != log.EntryLevelWarning {
			return
		}
		if en.Source == log.EntrySourceNetwork && isDegradable(en.URL) {
			return
		}
		b.fail("browser log %s/%s: %s (%s)", en.Source, en.Level, en.Text, en.URL)
	case *network.EventRequestWillBeSent:
		b.mu.Lock()
		b.reqs++
		b.mu.Unlock()
		u, err := url.Parse(e.Request.URL)
		if err != nil {
			b.fail("request to unparsable URL %q", e.Request.URL)
			return
		}
		switch u.Scheme {
		case "data", "blob":
			return
		}
		if u.Scheme+"://"+u.Host != b.origin {
			b.fail("request left the server's origin: %s", e.Request.URL)
		}
	}
}

func isDegradable(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(u.Path, "/customer/databases/") {
		return false
	}
	for _, p := range degradable {
		if strings.HasSuffix(u.Path, p) {
			return true
		}
	}
	return false
}

// needChromium skips the test without Debian's chromium, or fails it in CI.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing (scripts/setup installs chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s missing; run scripts/setup", chromiumPath)
	}
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DB9_TEST_ARTIFACTS")
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "db9-console-artifacts-")
	} else {
		dir = filepath.Join(dir, "console")
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsole_Browser drives the web console in headless Chromium against a
// real server, at a laptop's and a phone's viewport: sign in, create a
// database, run SQL and read the grid, see an SQL error's position, browse
// the schema, branch and wait for ACTIVE, open observability (which
// degrades where the server lacks it), create and revoke a publishable key,
// see a function's run and logs, upload, preview, download and delete files
// over fs9 (console_tabs_test.go), sign out. No console error, no exception
// and no request off the server's origin is allowed.
func TestConsole_Browser(t *testing.T) {
	needChromium(t)
	s := StartServer(t)
	artifacts := artifactsDir(t)
	t.Logf("screenshots in %s", artifacts)
	for _, vp := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{
		{"desktop-1280x800", 1280, 800, false},
		{"phone-390x844", 390, 844, true},
	} {
		t.Run(vp.name, func(t *testing.T) {
			driveConsole(t, s, artifacts, vp.name, vp.width, vp.height, vp.mobile)
		})
	}
}

// startBrowser runs a fresh headless Chromium whose events go to blog, and
// returns a context for driving it (bounded to a few minutes).
func startBrowser(t *testing.T, blog *browserLog, width, height int64) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(width), int(height)),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	bctx, cancelC := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelC)
	// The first call starts the browser, on a context without a deadline
	// (a deadline there would bound the browser's whole life).
	if err := chromedp.Listen(bctx, blog.listen); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 4*time.Minute)
	t.Cleanup(cancelT)

	return ctx
}

// consolePage drives one browser tab through the console.
type consolePage struct {
	t         *testing.T
	ctx       context.Context
	blog      *browserLog
	artifacts string
	name      string // the viewport's, prefixing screenshots
}

// shot saves a screenshot named after the viewport and step.
func (p *consolePage) shot(step string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		buf, err := chromedp.CaptureScreenshot()(ctx, tg)
		if err != nil {
			return chromedp.Void{}, err
		}
		f := filepath.Join(p.artifacts, fmt.Sprintf("%s-%s.png", p.name, step))
		if err := os.WriteFile(f, buf, 0o644); err != nil {
			return chromedp.Void{}, err
		}
		p.t.Logf("screenshot %s", f)
		return chromedp.Void{}, nil
	}
}

// do runs steps, failing the test with what the page reported so far.
func (p *consolePage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.blog.mu.Lock()
		defer p.blog.mu.Unlock()
		p.t.Fatalf("%s: %v\nbrowser problems so far: %v", what, err, p.blog.errs)
	}
}

// text is the text of the first element matching sel.
func (p *consolePage) text(sel string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("read %s: %v", sel, err)
	}
	return v
}

// waitJS polls a JavaScript expression until it is truthy and returns it.
func (p *consolePage) waitJS(what, expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Poll[string](expr, chromedp.WithPollingTimeout(time.Minute)))
	if err != nil {
		p.blog.mu.Lock()
		defer p.blog.mu.Unlock()
		p.t.Fatalf("%s: %v\nbrowser problems so far: %v", what, err, p.blog.errs)
	}
	return v
}

func driveConsole(t *testing.T, s *Server, artifacts, name string, width, height int64, mobile bool) {
	token := s.Anonymous().Token
	origin := "http://" + s.Addr
	blog := &browserLog{origin: origin}

	ctx := startBrowser(t, blog, width, height)
	p := &consolePage{t: t, ctx: ctx, blog: blog, artifacts: artifacts, name: name}
	shot, do, text := p.shot, p.do, p.text
	// The test's own API client, bound to this subtest and the page's account.
	api := &Client{t: t, base: origin, Token: token}
	var vpOpts []chromedp.EmulateViewportOption
	if mobile {
		vpOpts = append(vpOpts, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
	}

	do("open the console",
		chromedp.EmulateViewport(width, height, vpOpts...),
		chromedp.Navigate(origin+"/console"),
		chromedp.WaitVisible(chromedp.ID("token-input")),
		shot("1-signin"))

	do("sign in with the token",
		chromedp.SendKeys(chromedp.ID("token-input"), token),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("new-db-name")))
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('db9.token')`))
	if err != nil || stored != token {
		t.Fatalf("token not in sessionStorage (err %v)", err)
	}

	dbName := "shop-" + strings.SplitN(name, "-", 2)[0]
	do("create a database",
		chromedp.SendKeys(chromedp.ID("new-db-name"), dbName),
		chromedp.Click(chromedp.ID("create-db")),
		chromedp.WaitVisible(chromedp.ID("open-new-db")),
		shot("2-created"))
	if got := text("#create-db-result [data-testid=secret]"); !strings.Contains(got, "created") {
		t.Fatalf("create result: %q", got)
	}

	do("run SQL with Ctrl+Enter",
		chromedp.Click(chromedp.ID("open-new-db")),
		chromedp.WaitVisible(chromedp.ID("sql-editor")),
		chromedp.SetValue(chromedp.ID("sql-editor"), "create table t(a int); insert into t values (1),(2); select * from t"),
		chromedp.Focus(chromedp.ID("sql-editor")),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.WaitVisible(chromedp.ID("sql-grid")),
		shot("3-sql"))
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll('#sql-grid tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent))`))
	if err != nil || fmt.Sprint(cells) != "[[1] [2]]" {
		t.Fatalf("grid rows %v (err %v), want [[1] [2]]", cells, err)
	}
	if got := text("#sql-grid thead"); !strings.Contains(got, "a") || !strings.Contains(got, "int4") {
		t.Errorf("grid header %q", got)
	}

	do("run a bad query",
		chromedp.SetValue(chromedp.ID("sql-editor"), "select 1;\nselect nosuch from t"),
		chromedp.Click(chromedp.ID("run-sql")),
		chromedp.WaitVisible(chromedp.ID("sql-error")),
		shot("4-sql-error"))
	if got := text("#sql-error"); !strings.Contains(got, "42703") || !strings.Contains(got, "line 2, column 8") {
		t.Errorf("SQL error shows %q, want SQLSTATE 42703 at line 2, column 8", got)
	}

	do("browse the schema",
		chromedp.Click(chromedp.ID("tab-schema")),
		chromedp.WaitVisible(chromedp.CSS("details.rel")))
	if got := text("details.rel summary"); !strings.Contains(got, "public.t") {
		t.Errorf("schema shows %q", got)
	}

	branch := dbName + "-b1"
	stateSel := `[data-branch="` + branch + `"] .branch-state`
	do("create a branch",
		chromedp.Click(chromedp.ID("tab-branches")),
		chromedp.WaitVisible(chromedp.ID("branch-name")),
		chromedp.SendKeys(chromedp.ID("branch-name"), branch),
		chromedp.Click(chromedp.ID("create-branch")),
		chromedp.WaitVisible(chromedp.CSS(stateSel)))
	final, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const e = document.querySelector('`+stateSel+`'); return e && (e.textContent === 'ACTIVE' || e.textContent === 'CREATE_FAILED') ? e.textContent : false })()`, chromedp.WithPollingTimeout(2*time.Minute)))
	if err != nil || final != "ACTIVE" {
		t.Fatalf("branch state %q (err %v), want ACTIVE", final, err)
	}
	do("screenshot the branch", shot("5-branch"))

	do("open observability",
		chromedp.Click(chromedp.ID("tab-observability")),
		chromedp.WaitVisible(chromedp.CSS("#obs-body .notice, #obs-body .charts")),
		shot("6-observability"))
	if got := text("#obs-body"); !strings.Contains(got, "not available on this server") && !strings.Contains(got, "Queries per second") {
		t.Errorf("observability shows %q", got)
	}

	var dbID string
	for _, d := range api.ListDBs(false) {
		if d.Name == dbName {
			dbID = d.ID
		}
	}
	if dbID == "" {
		t.Fatalf("the API does not list %s", dbName)
	}

	driveKeys(p, api, dbID)

	do("create a user",
		chromedp.Click(chromedp.ID("tab-users")),
		chromedp.WaitVisible(chromedp.ID("new-user-name")),
		chromedp.SendKeys(chromedp.ID("new-user-name"), "app_reader"),
		chromedp.Click(chromedp.ID("create-user")),
		chromedp.WaitVisible(chromedp.CSS("#users-result [data-testid=secret]")),
		chromedp.WaitVisible(chromedp.CSS("#users-list table")),
		shot("8-users"))
	if got := text("#users-list table"); !strings.Contains(got, "app_reader") {
		t.Errorf("users list %q lacks app_reader", got)
	}

	driveFunctions(p, api, dbID)
	driveFiles(p, api, dbID)

	do("open the account",
		chromedp.Click(chromedp.ID("account-link")),
		chromedp.WaitVisible(chromedp.CSS("#sec-api-tokens ~ div table, #sec-api-tokens ~ div p.muted")),
		shot("11-account"))

	do("delete the branch, confirming by its name",
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/db/`+branch+`'`),
		chromedp.WaitVisible(chromedp.ID("delete-db")),
		chromedp.Click(chromedp.ID("delete-db")),
		chromedp.WaitVisible(chromedp.ID("confirm-input")),
		shot("12-confirm-delete"),
		chromedp.SendKeys(chromedp.ID("confirm-input"), branch),
		chromedp.Click(chromedp.ID("confirm-ok")),
		chromedp.WaitVisible(chromedp.ID("new-db-name")),
		chromedp.WaitVisible(chromedp.CSS("#main table")))
	if got := text("#main table"); strings.Contains(got, branch) || !strings.Contains(got, dbName) {
		t.Errorf("after deleting %s the list shows %q", branch, got)
	}

	do("sign out",
		chromedp.Click(chromedp.ID("sign-out")),
		chromedp.WaitVisible(chromedp.ID("token-input")))
	left, err := chromedp.Run(ctx, chromedp.Evaluate[any](`sessionStorage.getItem('db9.token')`))
	if err != nil || left != nil {
		t.Errorf("token still in sessionStorage after sign-out: %v (err %v)", left, err)
	}

	// Events of the last steps land before the check.
	do("settle", chromedp.Sleep(200*time.Millisecond))
	blog.mu.Lock()
	defer blog.mu.Unlock()
	if blog.reqs == 0 {
		t.Fatal("saw no network requests: the listener is not working")
	}
	for _, e := range blog.errs {
		t.Error(e)
	}
}
