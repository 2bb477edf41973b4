package static_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/internal/testbed"
	"github.com/farmhq/farm/static"
	"github.com/farmhq/farm/store/ram"
)

// The web pages, in a real browser (Debian's Chromium, headless) against
// farm's real handler and the embedded files.

// browser starts a headless Chromium for the test, with the flags this
// machine's closed network wants, and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	chromium := testbed.Need(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// do runs browser steps with a time limit.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a script in the page.
func eval[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script))
		// A page that is navigating (a filter, a link) has no document to
		// ask for a moment: ask again.
		if err != nil && ctx.Err() == nil && (strings.Contains(err.Error(), "navigated or closed") || strings.Contains(err.Error(), "context")) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return v
	}
}

// click clicks the element sel names, in one step in the page: the page
// shows itself again on every change anyone makes (the change feed), so an
// element found in one step may be gone by the next.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	q, _ := json.Marshal(sel)
	script := `(() => { const e = document.querySelector(` + string(q) + `); if (!e) return false; e.click(); return true })()`
	deadline := time.Now().Add(10 * time.Second)
	for !eval[bool](t, ctx, script) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s to click", sel)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func post(t *testing.T, url, body string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("seed %s: %d", body, res.StatusCode)
	}
}

func TestAnimalsPage(t *testing.T) {
	h := farmhttp.NewHandler(farmhttp.Options{
		Store:  ram.New(),
		Static: static.Files(),
		About:  farmhttp.About{Name: "farm", Version: "2026.11.28"},
	})
	// Count what the page asks of the API.
	var apiGets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/animal") {
			apiGets.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close) // after the browser's (cleanups run last first): its feed stream holds a connection
	for i := range 12 {
		post(t, srv.URL+"/api/v1/animal", fmt.Sprintf(`{"id": "cow-%02d", "species": "cow", "sex": "female", "name": "Cow %d"}`, i, i))
	}
	for i := range 11 {
		post(t, srv.URL+"/api/v1/animal", fmt.Sprintf(`{"id": "hen-%02d", "species": "chicken", "sex": "female", "dob": "2024-01-%02d"}`, i, i+1))
	}
	ctx := browser(t)

	rows := func() int { return eval[int](t, ctx, `document.querySelectorAll('#animals tbody tr').length`) }
	text := func(sel string) string {
		q, _ := json.Marshal(sel)
		return eval[string](t, ctx, `(document.querySelector(`+string(q)+`) || {}).textContent || ''`)
	}
	waitText := func(sel, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Contains(text(sel), want) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s shows %q, want %q; the page: %s", sel, text(sel), want, eval[string](t, ctx, `document.querySelector('#add input[name=id]').value + ' | ' + document.body.innerText`))
	}
	waitSummary := func(want string) {
		t.Helper()
		waitText("#summary", want)
		// The rows follow the summary: wait until each has its record.
		deadline := time.Now().Add(5 * time.Second)
		const filled = `document.querySelectorAll('#animals tbody tr').length > 0 || document.getElementById('summary').textContent.startsWith('0 ')`
		for !eval[bool](t, ctx, filled) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	links := func() string {
		return eval[string](t, ctx, `[...document.querySelectorAll('#pages a')].map(a => a.rel).join(',')`)
	}

	// The index page links the animals page and shows the version.
	do(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`a[href="animals.html"]`)))
	waitText("#version", "farm 2026.11.28")

	// Page 1 of 3, then next, then last, following the API's Link header.
	apiGets.Store(0)
	click(t, ctx, `a[href="animals.html"]`)
	waitSummary("23 animals, page 1 of 3")
	if n, l := rows(), links(); n != 10 || l != "next,last" {
		t.Fatalf("page 1: %d rows, links %q", n, l)
	}
	// A page of whole records is one request (fields=all), not one a row.
	if n := apiGets.Load(); n != 1 {
		t.Errorf("the page of 10 asked the API %d times, want once", n)
	}
	if first := text("#animals tbody tr:first-child td.id"); first != "cow-00" {
		t.Errorf("first row %q, want cow-00 (id order)", first)
	}
	click(t, ctx, `#pages a[rel="next"]`)
	waitSummary("23 animals, page 2 of 3")
	if n, l := rows(), links(); n != 10 || l != "first,prev,next,last" {
		t.Errorf("page 2: %d rows, links %q", n, l)
	}
	click(t, ctx, `#pages a[rel="last"]`)
	waitSummary("23 animals, page 3 of 3")
	if n, l := rows(), links(); n != 3 || l != "first,prev" {
		t.Errorf("last page: %d rows, links %q", n, l)
	}

	// Filter: cows, 5 a page.
	do(t, ctx,
		chromedp.SetValue(chromedp.CSS(`#filter select[name=species]`), "cow"),
		chromedp.SetValue(chromedp.CSS(`#filter select[name=per_page]`), "5"),
	)
	click(t, ctx, `#filter button`)
	waitSummary("12 animals, page 1 of 3")
	if n := rows(); n != 5 {
		t.Errorf("5 cows a page: %d rows", n)
	}

	// Add a cow; an invalid one shows the API's error and adds nothing.
	do(t, ctx,
		chromedp.SetValue(chromedp.CSS(`#add select[name=species]`), "cow"),
		chromedp.SetValue(chromedp.CSS(`#add input[name=name]`), "Daisy"),
		chromedp.SetValue(chromedp.CSS(`#add input[name=id]`), "aaa-daisy"),
	)
	click(t, ctx, `#add button`)
	// The message first: the change feed may show the page again before
	// the form's own answer has come (and the form been emptied).
	waitText("#message", "added aaa-daisy")
	waitSummary("13 animals, page 1 of 3")
	if m, first := text("#message"), text("#animals tbody tr:first-child td.id"); m != "added aaa-daisy" || first != "aaa-daisy" {
		t.Errorf("after adding: message %q, first row %q", m, first)
	}
	do(t, ctx,
		chromedp.SetValue(chromedp.CSS(`#add select[name=species]`), "cow"),
		chromedp.SetValue(chromedp.CSS(`#add input[name=id]`), "aaa-daisy"),
	)
	click(t, ctx, `#add button`)
	waitText("#message", `animal "aaa-daisy" exists`)
	do(t, ctx,
		chromedp.SetValue(chromedp.CSS(`#add input[name=id]`), "bad id"),
	)
	click(t, ctx, `#add button`)
	waitText("#message", "id: may hold only")
	// Without an id the page makes a UUID, even where crypto.randomUUID is
	// missing (plain HTTP on another host than localhost).
	eval[bool](t, ctx, `delete Crypto.prototype.randomUUID; document.querySelector('#add input[name=id]').value = ''; true`)
	click(t, ctx, `#add button`)
	waitText("#message", "added ")
	if id := strings.TrimPrefix(text("#message"), "added "); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("generated id %q is not a version 4 UUID", id)
	}
	waitSummary("14 animals, page 1 of 3")

	// Delete the first row, with its ETag.
	click(t, ctx, `#animals tbody tr[data-id="aaa-daisy"] button.delete`)
	waitSummary("13 animals, page 1 of 3")
	if m := text("#message"); m != "deleted aaa-daisy" {
		t.Errorf("after deleting: %q", m)
	}
	res, err := http.Get(srv.URL + "/api/v1/animal/aaa-daisy")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("aaa-daisy after the delete: %d", res.StatusCode)
	}
}
