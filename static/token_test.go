package static_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/static"
	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/token"
)

// With write tokens, the page asks for one when a write gets 401, keeps it
// for the session, and asks again when it is wrong.
func TestAnimalsPageWriteToken(t *testing.T) {
	const good = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	path := filepath.Join(t.TempDir(), "write_token")
	os.WriteFile(path, []byte(good+"\n"), 0o600)
	tf, err := token.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := farmhttp.NewHandler(farmhttp.Options{Store: ram.New(), Static: static.Files(), Writers: tf})
	var mu sync.Mutex
	var auths []string // the Authorization of every write
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			mu.Lock()
			auths = append(auths, r.Header.Get("Authorization"))
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close) // after the browser's (cleanups run last first): its feed stream holds a connection
	ctx := browser(t)

	// The dialogs the page opens, answered from answers in turn ("" for
	// Cancel).
	var answers []string
	var asked []string
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			mu.Lock()
			asked = append(asked, ev.Message)
			answer := ""
			if len(answers) > 0 {
				answer, answers = answers[0], answers[1:]
			}
			mu.Unlock()
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: answer != "", PromptText: answer})
		}
	}()
	answer := func(a ...string) {
		mu.Lock()
		answers, asked, auths = a, nil, nil
		mu.Unlock()
	}
	text := func(sel string) string {
		return eval[string](t, ctx, `(document.querySelector('`+sel+`') || {}).textContent || ''`)
	}
	waitMessage := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(text("#message"), want) {
			if time.Now().After(deadline) {
				t.Fatalf("#message shows %q, want %q", text("#message"), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	addCow := func(id string) {
		t.Helper()
		do(t, ctx,
			chromedp.SetValue(chromedp.CSS(`#add select[name=species]`), "cow"),
			chromedp.SetValue(chromedp.CSS(`#add input[name=id]`), id),
		)
		click(t, ctx, `#add button`)
	}
	do(t, ctx, chromedp.Navigate(srv.URL+"/animals.html"), chromedp.WaitVisible(chromedp.CSS(`#add button`)))

	// A wrong token, then the right one: two questions, three tries.
	answer("not-the-token-0000000000", good)
	addCow("cow-1")
	waitMessage("added cow-1")
	mu.Lock()
	if len(asked) != 2 || !strings.Contains(asked[0], "needs a write token") || !strings.Contains(asked[1], "not valid") {
		t.Errorf("asked %q", asked)
	}
	if len(auths) != 3 || auths[0] != "" || auths[2] != "Bearer "+good {
		t.Errorf("writes sent Authorization %q", auths)
	}
	mu.Unlock()

	// Kept for the session: the next write asks nothing.
	answer()
	addCow("cow-2")
	waitMessage("added cow-2")
	click(t, ctx, `#animals tbody tr[data-id="cow-1"] button.delete`)
	waitMessage("deleted cow-1")
	mu.Lock()
	if len(asked) != 0 || len(auths) != 2 {
		t.Errorf("with the token kept: asked %q, writes %q", asked, auths)
	}
	mu.Unlock()
	if got := eval[string](t, ctx, `sessionStorage.getItem('farm-write-token')`); got != good {
		t.Errorf("sessionStorage holds %q", got)
	}

	// Cancel: the API's 401 is shown, nothing is added.
	eval[bool](t, ctx, `sessionStorage.clear(); true`)
	answer("")
	addCow("cow-3")
	waitMessage("token")
	res, err := http.Get(srv.URL + "/api/v1/animal/cow-3")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("cow-3 after a cancelled token: %d", res.StatusCode)
	}
}
