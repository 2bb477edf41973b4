package static_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/internal/testbed"
	"github.com/farmhq/farm/static"
	"github.com/farmhq/farm/store/sqlite"
)

// instance is one farm handler on a shared SQLite file, as a separate
// instance would be (its own store, its own feed hub).
func instance(t *testing.T, path string) *httptest.Server {
	t.Helper()
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(farmhttp.NewHandler(farmhttp.Options{Store: st, Static: static.Files(),
		About: farmhttp.About{Name: "farm", Version: "2026.12.02"}}))
	t.Cleanup(func() { srv.Close(); st.Close() })
	return srv
}

func send(t *testing.T, method, url, body string, header ...string) (int, []byte) {
	t.Helper()
	code, _, b := testbed.Send(t, method, url, body, header...)
	return code, b
}

// Two pages, each on another instance of one store, are live: a write
// through the API shows in both within 2 s, a deletion takes the row away;
// a record is edited in place, and two people editing one record at once
// lose nothing: the second sees the conflict with the record as it is now
// and applies their change over it. The filters cover name and dob.
func TestLivePages(t *testing.T) {
	db := filepath.Join(t.TempDir(), "farm.db")
	one, two := instance(t, db), instance(t, db)
	for i := range 4 {
		post(t, one.URL+"/api/v1/animal", fmt.Sprintf(`{"id": "cow-%02d", "species": "cow", "sex": "female", "name": "Cow %d"}`, i, i))
	}
	// Two browsers: two people.
	pageA, pageB := browser(t), browser(t)

	waitFor := func(page context.Context, what, script string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		// A page between two loads has no document to ask: not yet.
		script = `(() => { try { return !!(` + script + `) } catch (e) { return false } })()`
		for !eval[bool](t, page, script) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v (%s)", what, within, eval[string](t, page, `document.body.innerText`))
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	hasRow := func(id string) string { return `!!document.querySelector('#animals tbody tr[data-id="` + id + `"]')` }
	do(t, pageA, chromedp.Navigate(one.URL+"/animals.html"))
	do(t, pageB, chromedp.Navigate(two.URL+"/animals.html"))
	for _, p := range []context.Context{pageA, pageB} {
		waitFor(p, "the live indicator", `document.getElementById('live').textContent === 'live'`, 5*time.Second)
		waitFor(p, "the rows", hasRow("cow-03"), 5*time.Second)
	}

	// A write through the API, through the second instance: both pages.
	sent := time.Now()
	if code, b := send(t, "POST", two.URL+"/api/v1/animal", `{"id": "cow-00a", "species": "cow", "sex": "male", "name": "New"}`); code != 201 {
		t.Fatalf("POST: %d %s", code, b)
	}
	waitFor(pageA, "the new row on page A", hasRow("cow-00a"), 2*time.Second)
	waitFor(pageB, "the new row on page B", hasRow("cow-00a"), 2*time.Second)
	t.Logf("a write showed in both pages after %v", time.Since(sent))
	send(t, "DELETE", one.URL+"/api/v1/animal/cow-00a", "")
	waitFor(pageB, "the deleted row gone from page B", "!"+hasRow("cow-00a"), 2*time.Second)

	// Both edit cow-01 at once: A renames it, B gives it a birth date.
	row := `#animals tbody tr[data-id="cow-01"] `
	click(t, pageA, row+"button.edit")
	click(t, pageB, row+"button.edit")
	do(t, pageA, chromedp.SetValue(chromedp.CSS(row+"input[name=name]"), "Renamed by A"))
	click(t, pageA, row+"button.save")
	waitFor(pageA, "A's save", `document.getElementById('message').textContent === 'saved cow-01'`, 5*time.Second)
	do(t, pageB, chromedp.SetValue(chromedp.CSS(row+"input[name=dob]"), "2020-01-01"))
	click(t, pageB, row+"button.save")
	waitFor(pageB, "B's conflict", `!document.getElementById('conflict').hidden && document.getElementById('conflict').textContent.includes('name Renamed by A')`, 5*time.Second)
	click(t, pageB, "#conflict button.retry")
	waitFor(pageB, "B's save over A's", `document.getElementById('message').textContent === 'saved cow-01'`, 5*time.Second)
	code, b := send(t, "GET", one.URL+"/api/v1/animal/cow-01", "")
	var a map[string]any
	json.Unmarshal(b, &a)
	if code != 200 || a["name"] != "Renamed by A" || a["dob"] != "2020-01-01" {
		t.Errorf("cow-01 after both edits: %d %s; want A's name and B's date", code, b)
	}
	// And page A shows B's date without reloading.
	waitFor(pageA, "B's edit on page A", `(document.querySelector('`+row+`') || {textContent: ''}).textContent.includes('2020-01-01')`, 2*time.Second)

	// Filters by name and by date of birth.
	do(t, pageA, chromedp.SetValue(chromedp.CSS(`#filter input[name=name]`), "Cow 2"))
	click(t, pageA, `#filter button`)
	waitFor(pageA, "the name filter", `document.getElementById('summary').textContent.startsWith('1 animal,') && `+hasRow("cow-02"), 5*time.Second)
	do(t, pageA, chromedp.Navigate(one.URL+"/animals.html?dob=2020-01-01"))
	waitFor(pageA, "the dob filter", `document.getElementById('summary').textContent.startsWith('1 animal,') && `+hasRow("cow-01"), 5*time.Second)
	if v := eval[string](t, pageA, `document.querySelector('#filter input[name=dob]').value`); v != "2020-01-01" {
		t.Errorf("the dob filter shows %q", v)
	}
}
