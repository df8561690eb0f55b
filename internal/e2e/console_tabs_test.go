package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// The console's Keys, Functions and Files tabs against the real server,
// driven by TestConsole_Browser at each viewport: what the page shows is
// checked against what the API and SQL say.

// driveKeys creates a publishable key in the page, sees its secret once and
// in the list, and revokes it.
func driveKeys(p *consolePage, api *Client, dbID string) {
	t := p.t
	name := "web-" + strings.SplitN(p.name, "-", 2)[0]
	sec := "#publishable-keys"
	p.do("open keys",
		chromedp.Click(chromedp.ID("tab-keys")),
		chromedp.WaitVisible(chromedp.CSS("#connect-keys table, #connect-keys .empty")),
		chromedp.WaitVisible(chromedp.CSS("#service-keys table, #service-keys .empty")),
		chromedp.WaitVisible(chromedp.CSS(sec+" table, "+sec+" .empty")))
	if got := p.text("#tab-body"); strings.Contains(got, "not available") {
		t.Fatalf("keys tab degrades on a server that serves keys: %q", got)
	}
	p.do("create a publishable key",
		chromedp.SendKeys(chromedp.CSS(sec+` input[placeholder="generated when empty"]`), name),
		chromedp.SendKeys(chromedp.CSS(sec+` input[placeholder="*"]`), "https://app.example.com"),
		chromedp.Click(chromedp.CSS(sec+" form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(sec+" [data-testid=secret]")))
	revoke := sec + ` button[aria-label="Revoke ` + name + `"]`
	p.do("see the key listed", chromedp.WaitVisible(chromedp.CSS(revoke)), p.shot("7-keys"))
	key := p.waitJS("read the key", `document.querySelector('`+sec+` [data-testid=secret] input').value`)
	if !strings.HasPrefix(key, "db9pk_") {
		t.Errorf("the page shows publishable key %q, want db9pk_...", key)
	}
	if got := p.text(sec + " table"); !strings.Contains(got, "https://app.example.com") {
		t.Errorf("publishable keys list %q lacks the allowed origin", got)
	}
	type pk struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	var keys []pk
	api.MustDo("GET", "/customer/databases/"+dbID+"/publishable-keys", nil, 200, &keys)
	if len(keys) != 1 || keys[0].Name != name {
		t.Fatalf("API lists publishable keys %+v, want just %s", keys, name)
	}

	p.do("revoke the key",
		chromedp.Click(chromedp.CSS(revoke)),
		chromedp.WaitVisible(chromedp.ID("confirm-ok")),
		chromedp.Click(chromedp.ID("confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS(sec+" .empty")))
	api.MustDo("GET", "/customer/databases/"+dbID+"/publishable-keys", nil, 200, &keys)
	if len(keys) != 0 {
		t.Errorf("after revoking in the page the API lists %+v", keys)
	}
}

// driveFunctions deploys and invokes a function through the API, then
// finds the function, its run and the run's logs in the page.
func driveFunctions(p *consolePage, api *Client, dbID string) {
	t := p.t
	f := fnDB{c: api, db: dbID}
	fn := f.deploy("greet", []byte(`module.exports.handler = async (input, ctx) => {
		console.log("greeting " + input.who);
		console.warn("careful, " + input.who);
		const r = await ctx.db.query("select 6 * 7 as answer");
		return { who: input.who, answer: r.rows[0][0] };
	};`), nil)
	run := f.invoke("greet", map[string]any{"who": "the console"}, "")
	if run.Status != "succeeded" {
		t.Fatalf("invoke: %+v (error %v)", run, deref(run.Error))
	}

	p.do("open functions",
		chromedp.Click(chromedp.ID("tab-functions")),
		chromedp.WaitVisible(chromedp.CSS(`#tab-body a[href$="/functions/`+fn.ID+`"]`)))
	if got := p.text("#tab-body table"); !strings.Contains(got, "greet") {
		t.Errorf("functions list %q lacks greet", got)
	}
	p.do("open the function's runs",
		chromedp.Click(chromedp.CSS(`#tab-body a[href$="/functions/`+fn.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tab-body a[href$="/`+run.ID+`"]`)))
	p.do("open the run",
		chromedp.Click(chromedp.CSS(`#tab-body a[href$="/`+run.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#tab-body pre.logs")),
		p.shot("9-functions"))
	logs := p.text("#tab-body pre.logs")
	if !strings.Contains(logs, "greeting the console") || !strings.Contains(logs, "WARN") || !strings.Contains(logs, "careful, the console") {
		t.Errorf("run logs in the page: %q", logs)
	}
	props := p.text("#tab-body dl.props")
	if !strings.Contains(props, "succeeded") || !strings.Contains(props, `"answer":42`) {
		t.Errorf("run in the page: %q, want succeeded with answer 42", props)
	}
}

// driveFiles makes a folder, uploads a small text file and a 1.5 MiB
// binary one (a streamed write) through the file input, previews the one,
// downloads the other into a directory the browser saves to, compares
// every byte with the originals and with what SQL reads, then deletes.
func driveFiles(p *consolePage, api *Client, dbID string) {
	t := p.t
	dir := t.TempDir()
	small := []byte("hello from the console ✓\nsecond line\n")
	big := make([]byte, 3<<19)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	smallPath, bigPath := filepath.Join(dir, "notes.txt"), filepath.Join(dir, "blob.bin")
	for path, b := range map[string][]byte{smallPath: small, bigPath: big} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dl := filepath.Join(dir, "downloads")
	if err := os.Mkdir(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	row := func(path string) string { return `#files-list tr[data-path="` + path + `"]` }

	p.do("open files",
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl})
			return chromedp.Void{}, err
		},
		chromedp.Click(chromedp.ID("tab-files")),
		chromedp.WaitVisible(chromedp.CSS("#files-list .empty, #files-list table, #tab-body .notice.error")))
	if got := p.text("#tab-body"); strings.Contains(got, "Connecting") || strings.Contains(got, "not available") || strings.Contains(got, "failed") {
		t.Fatalf("files tab: %q", got)
	}

	p.do("make a folder",
		chromedp.SendKeys(chromedp.ID("files-new-folder"), "docs"),
		chromedp.Click(chromedp.ID("files-mkdir")),
		chromedp.WaitVisible(chromedp.CSS(row("/docs"))))
	p.do("make it again",
		chromedp.SendKeys(chromedp.ID("files-new-folder"), "docs"),
		chromedp.Click(chromedp.ID("files-mkdir")),
		chromedp.WaitVisible(chromedp.CSS("#files-result .notice.error")),
		p.shot("10-files-error"))
	if got := p.text("#files-result"); !strings.Contains(got, "Already exists") || !strings.Contains(got, "EEXIST") || !strings.Contains(got, "docs") {
		t.Errorf("mkdir of an existing folder shows %q, want a readable EEXIST", got)
	}

	p.do("upload two files into the folder",
		chromedp.Click(chromedp.CSS(row("/docs")+" button.link")),
		chromedp.WaitVisible(chromedp.CSS(`.crumbs [aria-current="location"]`)),
		chromedp.WaitVisible(chromedp.CSS("#files-list .empty")),
		chromedp.SetUploadFiles(chromedp.ID("files-upload"), []string{smallPath, bigPath}),
		chromedp.Click(chromedp.ID("files-upload-button")),
		chromedp.WaitVisible(chromedp.CSS("#files-result .notice.ok, #files-result .notice.error")))
	if got := p.text("#files-result"); !strings.Contains(got, "Uploaded notes.txt") || !strings.Contains(got, "blob.bin (1.5 MiB)") {
		t.Fatalf("upload result %q", got)
	}
	p.do("see the uploads listed",
		chromedp.WaitVisible(chromedp.CSS(row("/docs/blob.bin"))),
		chromedp.WaitVisible(chromedp.CSS(row("/docs/notes.txt"))),
		p.shot("10-files-uploaded"))
	sizes := p.waitJS("read the sizes", `Array.from(document.querySelectorAll('#files-list tbody tr')).map(r => r.dataset.path + '=' + r.querySelector('td.num span').title).join(',')`)
	if want := fmt.Sprintf("/docs/blob.bin=%d bytes,/docs/notes.txt=%d bytes", len(big), len(small)); sizes != want {
		t.Errorf("listed %s, want %s", sizes, want)
	}

	// What the server holds, read by SQL.
	for path, want := range map[string][]byte{"/docs/notes.txt": small, "/docs/blob.bin": big} {
		r := api.MustSQL(dbID, "select encode(fs9_read_bytea($1), 'hex')", path)
		if len(r.Rows) != 1 || r.Rows[0][0] != hex.EncodeToString(want) {
			t.Errorf("SQL reads %s differently from the uploaded bytes", path)
		}
	}

	p.do("preview the text file",
		chromedp.Click(chromedp.CSS(row("/docs/notes.txt")+` button[aria-label^="Preview"]`)),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=preview]")),
		p.shot("10-files-preview"))
	shown := p.waitJS("read the preview", `document.querySelector('[data-testid=preview]').textContent`)
	if shown != string(small) {
		t.Errorf("preview shows %q, want %q", shown, small)
	}

	sum := sha256.Sum256(big)
	p.do("download the big file",
		chromedp.Click(chromedp.CSS(row("/docs/blob.bin")+` button[aria-label^="Download"]`)),
		chromedp.WaitVisible(chromedp.CSS("#files-result [data-testid=sha256]")),
		p.shot("10-files-downloaded"))
	if got := p.text("#files-result [data-testid=sha256]"); got != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("page verified %s, want the upload's sha256:%x", got, sum)
	}
	saved := filepath.Join(dl, "blob.bin")
	waitFor(t, 30*time.Second, "the browser to save blob.bin", func() bool {
		b, err := os.ReadFile(saved)
		return err == nil && len(b) == len(big)
	})
	if b, _ := os.ReadFile(saved); !bytes.Equal(b, big) {
		t.Errorf("the downloaded blob.bin differs from the uploaded one")
	}

	p.do("delete the text file",
		chromedp.Click(chromedp.CSS(row("/docs/notes.txt")+` button[aria-label^="Delete"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-ok")),
		chromedp.Click(chromedp.ID("confirm-ok")),
		chromedp.WaitNotPresent(chromedp.CSS(row("/docs/notes.txt"))))
	if r := api.MustSQL(dbID, "select fs9_exists('/docs/notes.txt'), fs9_exists('/docs/blob.bin')"); len(r.Rows) != 1 || r.Rows[0][0] != false || r.Rows[0][1] != true {
		t.Errorf("after deleting notes.txt in the page SQL sees %v", r.Rows)
	}
	p.do("delete the folder with what is in it",
		chromedp.Click(chromedp.CSS(`.crumbs button.link`)),
		chromedp.WaitVisible(chromedp.CSS(row("/docs"))),
		chromedp.Click(chromedp.CSS(row("/docs")+` button[aria-label^="Delete"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-ok")),
		chromedp.Click(chromedp.ID("confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS("#files-list .empty")))
	if r := api.MustSQL(dbID, "select fs9_exists('/docs')"); len(r.Rows) != 1 || r.Rows[0][0] != false {
		t.Errorf("after deleting /docs in the page SQL sees %v", r.Rows)
	}
}
