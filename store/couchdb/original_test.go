package couchdb_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	_ "github.com/go-kivik/kivik/v4/couchdb"

	"github.com/farmhq/farm"
	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/internal/testbed"
	"github.com/farmhq/farm/store/couchdb"
)

// The original farm's documents: _id the id, the posted JSON at the top
// level, species and sex as posted, dob checked only by a pattern; and a
// document that is not an animal.
var originalDocs = map[string]map[string]any{
	"daisy":    {"id": "daisy", "species": "Cow", "sex": "Female", "name": "Daisy", "dob": "2020-01-05"},
	"bessie":   {"id": "bessie", "species": "cow", "sex": "female", "dob": "2020-13-39"},
	"clucky":   {"id": "clucky", "species": "CHICKEN", "sex": "female", "name": "Clucky"},
	"rooster":  {"id": "rooster", "species": "chicken", "sex": "male"},
	"settings": {"theme": "dark", "owner": "farmer"},
}

// farm pointed at the original's CouchDB (a URL without a database: its
// db_animal) serves the original's documents as they are: GET, listing,
// filters and counts, PATCH and DELETE, through farm's API; what farm
// writes has the original's shape.
func TestOriginalLayout(t *testing.T) {
	server := testbed.StartCouchDB(t)
	ctx := context.Background()
	client, err := kivik.New("couch", server)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.CreateDB(ctx, "db_animal"); err != nil {
		t.Fatal(err)
	}
	db := client.DB("db_animal")
	for id, body := range originalDocs {
		if _, err := db.Put(ctx, id, body); err != nil {
			t.Fatal(err)
		}
	}
	settingsRev, _ := db.GetRev(ctx, "settings")

	st, err := couchdb.Open(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(farmhttp.NewHandler(farmhttp.Options{Store: st, Now: func() time.Time { return time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC) }}))
	defer srv.Close()
	call := func(method, path, body string, header ...string) (int, http.Header, []byte) {
		t.Helper()
		return testbed.Send(t, method, srv.URL+path, body, header...)
	}
	var a map[string]any
	code, h, b := call("GET", "/api/v1/animal/daisy", "")
	json.Unmarshal(b, &a)
	if code != 200 || a["species"] != "cow" || a["sex"] != "female" || a["name"] != "Daisy" || a["dob"] != "2020-01-05" {
		t.Errorf("GET daisy: %d %s", code, b)
	}
	daisyTag := h.Get("ETag")
	code, _, b = call("GET", "/api/v1/animal/bessie", "")
	a = nil
	json.Unmarshal(b, &a)
	if code != 200 || a["dob"] != "2020-13-39" {
		t.Errorf("GET bessie (a dob as stored): %d %s", code, b)
	}
	if code, _, b := call("GET", "/api/v1/animal/settings", ""); code != 404 {
		t.Errorf("GET of a document that is not an animal: %d %s", code, b)
	}

	// Listings, filters and counts, in id order.
	for _, c := range []struct {
		query string
		ids   []string
	}{
		{"", []string{"bessie", "clucky", "daisy", "rooster"}},
		{"species=cow", []string{"bessie", "daisy"}},
		{"sex=female", []string{"bessie", "clucky", "daisy"}},
		{"species=chicken&sex=female", []string{"clucky"}},
		{"name=Daisy", []string{"daisy"}},
		{"name=Clucky&species=chicken", []string{"clucky"}},
		{"dob=2020-01-05", []string{"daisy"}},
		{"species=cow&per_page=1&page=2", []string{"daisy"}},
	} {
		q := "?" + c.query
		code, h, b := call("GET", "/api/v1/animal"+q, "")
		var list []struct{ ID string }
		json.Unmarshal(b, &list)
		var ids []string
		for _, l := range list {
			ids = append(ids, l.ID)
		}
		total := len(c.ids)
		if strings.Contains(c.query, "page=2") {
			total = 2
		}
		if code != 200 || !slices.Equal(ids, c.ids) || h.Get("X-Total-Count") != itoa(total) {
			t.Errorf("GET /api/v1/animal%s: %d, total %s, %v; want %v", q, code, h.Get("X-Total-Count"), ids, c.ids)
		}
	}

	// PATCH: farm writes the original's shape, species and sex lower case.
	if code, _, b := call("PATCH", "/api/v1/animal/daisy", `{"name": "Daisy II"}`, "If-Match", daisyTag); code != 200 {
		t.Errorf("PATCH daisy: %d %s", code, b)
	}
	var raw map[string]any
	if err := db.Get(ctx, "daisy").ScanDoc(&raw); err != nil {
		t.Fatal(err)
	}
	delete(raw, "_rev")
	if want := map[string]any{"_id": "daisy", "id": "daisy", "species": "cow", "sex": "female", "name": "Daisy II", "dob": "2020-01-05"}; !sameMap(raw, want) {
		t.Errorf("daisy as stored after PATCH: %v; want %v", raw, want)
	}
	// A record whose dob is not a date is written only with a real one.
	// (409: the spec's answer to a PATCH whose result is invalid.)
	if code, _, b := call("PATCH", "/api/v1/animal/bessie", `{"name": "Bess"}`); code != 409 || !strings.Contains(string(b), "dob") {
		t.Errorf("PATCH bessie keeping dob 2020-13-39: %d %s", code, b)
	}
	if code, _, b := call("PATCH", "/api/v1/animal/bessie", `{"name": "Bess", "dob": "2020-12-30"}`); code != 200 {
		t.Errorf("PATCH bessie with a real dob: %d %s", code, b)
	}
	// DELETE removes the document.
	if code, _, b := call("DELETE", "/api/v1/animal/rooster", ""); code != 204 && code != 200 {
		t.Errorf("DELETE rooster: %d %s", code, b)
	}
	if _, err := db.GetRev(ctx, "rooster"); kivik.HTTPStatus(err) != http.StatusNotFound {
		t.Errorf("rooster's document after DELETE: %v", err)
	}
	if _, h, _ := call("GET", "/api/v1/animal", ""); h.Get("X-Total-Count") != "3" {
		t.Errorf("count after DELETE: %s", h.Get("X-Total-Count"))
	}
	// An id CouchDB keeps for itself: stored as "=" and the id.
	if code, _, b := call("POST", "/api/v1/animal", `{"id": "_calf", "species": "cow", "sex": "male"}`); code != 201 {
		t.Fatalf("POST _calf: %d %s", code, b)
	}
	if err := db.Get(ctx, "=_calf").ScanDoc(&raw); err != nil || raw["id"] != "_calf" {
		t.Errorf("_calf's document: %v %v", raw, err)
	}
	if code, _, b := call("GET", "/api/v1/animal/_calf", ""); code != 200 {
		t.Errorf("GET _calf: %d %s", code, b)
	}
	if _, h, _ := call("GET", "/api/v1/animal?species=cow", ""); h.Get("X-Total-Count") != "3" {
		t.Errorf("cows after POST _calf: %s", h.Get("X-Total-Count"))
	}
	// The document that is not an animal is as it was.
	if rev, err := db.GetRev(ctx, "settings"); err != nil || rev != settingsRev {
		t.Errorf("settings document: rev %s, was %s (%v)", rev, settingsRev, err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func sameMap(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// The change feed on CouchDB, from CouchDB's own _changes: farm's writes
// in order with increasing sequences, documents that are not animals (and
// the design document) left out, since and limit.
func TestChangeFeed(t *testing.T) {
	server := testbed.StartCouchDB(t)
	ctx := context.Background()
	st, err := couchdb.Open(ctx, server+"/feed")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start, err := st.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := &farm.Animal{ID: "daisy", Species: "cow", Sex: "female"}
	must(t, st.CreateAnimal(ctx, a))
	a.Name = "Daisy"
	must(t, st.ReplaceAnimal(ctx, a, a.Rev))
	client, _ := kivik.New("couch", server)
	client.DB("feed").Put(ctx, "settings", map[string]any{"theme": "dark"})
	must(t, st.CreateAnimal(ctx, &farm.Animal{ID: "_calf", Species: "cow", Sex: "male"}))
	must(t, st.DeleteAnimal(ctx, "daisy", ""))

	cs, err := st.Changes(ctx, start, 100)
	if err != nil {
		t.Fatal(err)
	}
	// CouchDB tells only a document's latest change: daisy's deletion
	// stands for her three; live streams see each as it comes.
	var got []string
	for i, c := range cs {
		got = append(got, c.Kind+" "+c.ID)
		if i > 0 && c.Seq <= cs[i-1].Seq {
			t.Errorf("sequences not increasing: %+v", cs)
		}
	}
	if strings.Join(got, ", ") != "created _calf, deleted daisy" {
		t.Errorf("changes: %v", got)
	}
	last, _ := st.LastSeq(ctx)
	if n := len(cs); n == 0 || cs[n-1].Seq != last {
		t.Errorf("last change %+v, LastSeq %d", cs, last)
	}
	if more, err := st.Changes(ctx, cs[0].Seq, 100); err != nil || len(more) != 1 || more[0].ID != "daisy" {
		t.Errorf("since %d: %+v %v", cs[0].Seq, more, err)
	}
	if one, err := st.Changes(ctx, start, 1); err != nil || len(one) != 1 {
		t.Errorf("limit 1: %+v %v", one, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
