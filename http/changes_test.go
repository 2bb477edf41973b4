package http

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/store/sqlite"
)

type feedAnswer struct {
	Results []struct {
		Seq    int64
		Kind   string
		ID     string
		Rev    string
		Animal *farm.Animal
	}
	LastSeq int64 `json:"last_seq"`
}

// The feed as JSON, on each store: every write in commit order with
// strictly increasing sequences, the record and its ETag for creates and
// updates, since, limit, filters and since=now.
func TestChangesJSON(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		cow := map[string]any{"id": "daisy", "species": "cow", "sex": "female"}
		r := a.do("POST", "/api/v1/animal", cow)
		etag1 := r.header.Get("ETag")
		r = a.do("PATCH", "/api/v1/animal/daisy", `{"name": "Daisy", "species": "chicken"}`)
		etag2 := r.header.Get("ETag")
		a.do("POST", "/api/v1/animal", map[string]any{"id": "bob", "species": "cow", "sex": "male"})
		a.do("DELETE", "/api/v1/animal/daisy", nil)

		var f feedAnswer
		r = a.do("GET", "/api/v1/_changes", nil)
		r.json(t, &f)
		if r.status != 200 || len(f.Results) != 4 {
			t.Fatalf("feed: %d %s", r.status, r.body)
		}
		want := []struct{ kind, id string }{{"created", "daisy"}, {"updated", "daisy"}, {"created", "bob"}, {"deleted", "daisy"}}
		for i, w := range want {
			c := f.Results[i]
			if c.Kind != w.kind || c.ID != w.id || (i > 0 && c.Seq <= f.Results[i-1].Seq) {
				t.Errorf("change %d: %+v, want %v", i, c, w)
			}
		}
		if c := f.Results[0]; `"`+c.Rev+`"` != etag1 || c.Animal == nil || c.Animal.Species != "cow" {
			t.Errorf("created: %+v (ETag %s)", c, etag1)
		}
		if c := f.Results[1]; `"`+c.Rev+`"` != etag2 || c.Animal.Name != "Daisy" || c.Animal.Species != "chicken" {
			t.Errorf("updated: %+v (ETag %s)", c, etag2)
		}
		if c := f.Results[3]; c.Animal != nil || c.Rev != "" {
			t.Errorf("deleted carries a record: %+v", c)
		}
		if f.LastSeq != f.Results[3].Seq {
			t.Errorf("last_seq %d, last change %d", f.LastSeq, f.Results[3].Seq)
		}
		s1 := f.Results[1].Seq

		var g feedAnswer
		a.do("GET", fmt.Sprintf("/api/v1/_changes?since=%d", s1), nil).json(t, &g)
		if len(g.Results) != 2 || g.Results[0].ID != "bob" {
			t.Errorf("since %d: %+v", s1, g)
		}
		// species=cow: daisy's creation, the update that made her a
		// chicken (she was a cow), bob; not her deletion as a chicken.
		g = feedAnswer{}
		a.do("GET", "/api/v1/_changes?species=cow", nil).json(t, &g)
		if len(g.Results) != 3 || g.Results[2].ID != "bob" || g.LastSeq != f.LastSeq {
			t.Errorf("species=cow: %+v", g)
		}
		g = feedAnswer{}
		a.do("GET", "/api/v1/_changes?limit=1", nil).json(t, &g)
		if len(g.Results) != 1 || g.LastSeq != f.Results[0].Seq {
			t.Errorf("limit=1: %+v", g)
		}
		g = feedAnswer{}
		a.do("GET", "/api/v1/_changes?since=now", nil).json(t, &g)
		if len(g.Results) != 0 || g.LastSeq != f.LastSeq {
			t.Errorf("since=now: %+v", g)
		}
		for _, q := range []string{"since=-1", "since=x", "limit=0", "limit=10001", "species=pig", "page=2", "since=1&since=2"} {
			if r := a.do("GET", "/api/v1/_changes?"+q, nil); r.status != 400 || !strings.Contains(string(r.body), "http_status_code") {
				t.Errorf("?%s: %d %s", q, r.status, r.body)
			}
		}
	})
}

// A since older than the changes kept is 410, telling the client to list
// again; the feed from the oldest kept on works.
// A since past the newest change answers the newest as last_seq: a
// client going on from it gets the next change.
func TestChangesSinceAhead(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		a.do("POST", "/api/v1/animal", map[string]any{"id": "daisy", "species": "cow", "sex": "female"})
		var f feedAnswer
		a.do("GET", "/api/v1/_changes", nil).json(t, &f)
		newest := f.LastSeq
		r := a.do("GET", "/api/v1/_changes?since="+strconv.FormatInt(newest+50, 10), nil)
		f = feedAnswer{}
		r.json(t, &f)
		if r.status != 200 || len(f.Results) != 0 || f.LastSeq != newest {
			t.Fatalf("since past the newest (%d): %d %s", newest, r.status, r.body)
		}
		a.do("POST", "/api/v1/animal", map[string]any{"id": "bob", "species": "cow", "sex": "male"})
		f = feedAnswer{}
		a.do("GET", "/api/v1/_changes?since="+strconv.FormatInt(newest, 10), nil).json(t, &f)
		if len(f.Results) != 1 || f.Results[0].ID != "bob" {
			t.Fatalf("from last_seq %d: %+v", newest, f)
		}
	})
}

func TestChangesGone(t *testing.T) {
	st := ram.NewKeeping(4)
	a := newAPI(t, st)
	for i := range 10 {
		a.do("POST", "/api/v1/animal", map[string]any{"id": fmt.Sprint("a", i), "species": "cow", "sex": "male"})
	}
	r := a.do("GET", "/api/v1/_changes?since=1", nil)
	if r.status != 410 || !strings.Contains(string(r.body), "list the records again") {
		t.Errorf("since=1 with 4 kept: %d %s", r.status, r.body)
	}
	r = a.do("GET", "/api/v1/_changes?since=1", nil, "Accept: text/event-stream")
	if r.status != 410 {
		t.Errorf("stream since=1 with 4 kept: %d %s", r.status, r.body)
	}
	var f feedAnswer
	a.do("GET", "/api/v1/_changes?since=8", nil).json(t, &f)
	if len(f.Results) != 2 {
		t.Errorf("since=8: %+v", f)
	}
}

// SQLite keeps CHANGES_KEEP changes: older ones are dropped, and asked
// for, 410.
func TestChangesGoneSQLite(t *testing.T) {
	st, err := sqlite.Open(t.TempDir()+"/farm.db", sqlite.Options{KeepChanges: 10})
	if err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, st)
	for i := range 600 { // the log is trimmed every 256 commits
		a.do("POST", "/api/v1/animal", map[string]any{"id": fmt.Sprint("a", i), "species": "cow", "sex": "male"})
	}
	if r := a.do("GET", "/api/v1/_changes?since=0", nil); r.status != 410 {
		t.Errorf("since=0 after trimming: %d %s", r.status, r.body)
	}
	var f feedAnswer
	if r := a.do("GET", "/api/v1/_changes?since=595", nil); r.status != 200 {
		t.Errorf("since=595: %d %s", r.status, r.body)
	} else if r.json(t, &f); len(f.Results) != 5 {
		t.Errorf("since=595: %+v", f)
	}
}

// event is one Server-Sent Event.
type event struct {
	id   string
	data string
}

// stream opens the feed as Server-Sent Events and sends its events, and
// its comments as events with data "# comment", on a channel.
func stream(t *testing.T, url string, header ...string) (<-chan event, *http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ch := make(chan event, 1000)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var e event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e != (event{}) {
					ch <- e
				}
				e = event{}
			case strings.HasPrefix(line, "id: "):
				e.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				e.data = line[6:]
			case strings.HasPrefix(line, ":"):
				e.data = "#" + line[1:]
			}
		}
	}()
	return ch, res, cancel
}

func next(t *testing.T, ch <-chan event) event {
	t.Helper()
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			if strings.HasPrefix(e.data, "#") {
				continue // comments
			}
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event in 5 s")
		}
	}
}

// The feed as Server-Sent Events: what happened since, then each new
// change as it is committed, ids the sequences; a client resumes with
// Last-Event-ID and misses nothing, repeats nothing; idle streams get
// heartbeats; past MAX_STREAMS, 503.
func TestChangesStream(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			a := newAPI(t, k.open(t), func(o *Options) { o.Heartbeat = 200 * time.Millisecond; o.MaxStreams = 2 })
			a.do("POST", "/api/v1/animal", map[string]any{"id": "first", "species": "cow", "sex": "male"})
			ch, res, cancel := stream(t, a.srv.URL+"/api/v1/_changes?since=0")
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("stream: %d %v", res.StatusCode, res.Header)
			}
			e := next(t, ch)
			if !strings.Contains(e.data, `"id":"first"`) || e.id == "" {
				t.Fatalf("first event: %+v", e)
			}
			ids := []string{e.id}
			for i := range 5 {
				a.do("POST", "/api/v1/animal", map[string]any{"id": fmt.Sprint("live", i), "species": "chicken", "sex": "female"})
				e = next(t, ch)
				var c farm.Change
				json.Unmarshal([]byte(e.data), &c)
				if c.ID != fmt.Sprint("live", i) || strconv.FormatInt(c.Seq, 10) != e.id {
					t.Fatalf("live event %d: %+v", i, e)
				}
				ids = append(ids, e.id)
			}
			// A heartbeat on an idle stream.
			deadline := time.After(3 * time.Second)
		wait:
			for {
				select {
				case e := <-ch:
					if e.data == "# heartbeat" {
						break wait
					}
				case <-deadline:
					t.Fatal("no heartbeat")
				}
			}
			// The second stream is the last one allowed.
			ch2, res2, cancel2 := stream(t, a.srv.URL+"/api/v1/_changes?since=now")
			_ = ch2
			if res2.StatusCode != 200 {
				t.Errorf("second stream: %d", res2.StatusCode)
			}
			if r := a.do("GET", "/api/v1/_changes", nil, "Accept: text/event-stream"); r.status != 503 || r.header.Get("Retry-After") == "" {
				t.Errorf("third stream: %d %s", r.status, r.body)
			}
			cancel2()
			cancel()

			// Two writes while away; the client resumes from its last id.
			a.do("DELETE", "/api/v1/animal/live0", nil)
			a.do("DELETE", "/api/v1/animal/live1", nil)
			time.Sleep(100 * time.Millisecond) // the server notices the first stream is gone
			ch, _, cancel = stream(t, a.srv.URL+"/api/v1/_changes?since=0", "Last-Event-ID", ids[len(ids)-1])
			defer cancel()
			for _, want := range []string{"live0", "live1"} {
				e := next(t, ch)
				if !strings.Contains(e.data, `"kind":"deleted","id":"`+want+`"`) {
					t.Errorf("resumed: %+v, want the deletion of %s", e, want)
				}
			}
			a.do("POST", "/api/v1/animal", map[string]any{"id": "after", "species": "cow", "sex": "female"})
			if e := next(t, ch); !strings.Contains(e.data, `"id":"after"`) {
				t.Errorf("after resuming: %+v", e)
			}
		})
	}
}

// laggingFeed is a feed whose LastSeq lags its log, as SQLite's does for
// the moment between a commit and its sync.
type laggingFeed struct {
	last int64
	log  []farm.Change
}

func (f laggingFeed) LastSeq(context.Context) (int64, error) { return f.last, nil }

func (f laggingFeed) Changes(_ context.Context, since int64, limit int) ([]farm.Change, error) {
	var out []farm.Change
	for _, c := range f.log {
		if c.Seq > since && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

// A since the client read from the log, past a LastSeq that lags it, is
// not taken back (which would send those changes again); one past the
// log's end is.
func TestNewestChangeReadsTheLog(t *testing.T) {
	f := laggingFeed{last: 5}
	for seq := int64(1); seq <= 2500; seq++ {
		f.log = append(f.log, farm.Change{Seq: seq})
	}
	ctx := context.Background()
	for _, c := range []struct{ since, want int64 }{{0, 5}, {3, 5}, {5, 5}, {7, 2500}, {2500, 2500}, {9000, 2500}} {
		if got, err := newestChange(ctx, f, c.since); err != nil || got != c.want {
			t.Errorf("newestChange(since %d) = %d, %v; want %d", c.since, got, err, c.want)
		}
	}
}
