package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/feed"
)

// The change feed, GET /api/v1/_changes: every committed create, update
// and delete, in commit order, as one JSON answer ({"results", "last_seq"})
// or, for a client that accepts text/event-stream, as Server-Sent Events
// that stay open (feed.Hub hands this instance's streams what any
// instance commits).

// Limits of a JSON answer of the feed.
const (
	DefaultChangesLimit = 1000
	MaxChangesLimit     = 10000
	// changesScan bounds the changes one JSON answer reads to find its
	// matches: a filter that matches little answers with what it found
	// and a last_seq to go on from, rather than reading the whole log.
	changesScan = 20000
)

var changesArgs = [...]string{"since", "limit", "species", "sex", "name", "dob"}

const changesArgNames = "since, limit, species, sex, name, dob"

// changesQuery is a checked request of the feed.
type changesQuery struct {
	since  int64
	now    bool // since=now: only changes from now on
	limit  int
	filter farm.AnimalFilter
}

// parseChanges checks the feed's query string, as parseList does a
// listing's.
func parseChanges(rawQuery string, now time.Time) (changesQuery, error) {
	q := changesQuery{limit: DefaultChangesLimit}
	var errs []farm.FieldError
	add := func(arg, msg string) { errs = append(errs, farm.FieldError{Field: arg, Message: msg}) }
	unknown, err := eachArg(rawQuery, changesArgs[:], "the change feed", add, func(name, v string) {
		switch name {
		case "since":
			if v == "now" {
				q.now = true
				return
			}
			n, err := parseSeq(v)
			if err != nil {
				add(name, err.Error()+" (or now)")
			}
			q.since = n
		case "limit":
			n, err := wholeNumber(v, 1, MaxChangesLimit)
			if err != nil {
				add(name, err.Error())
			}
			q.limit = n
		case "species", "sex", "name", "dob":
			if err := filterArg(&q.filter, name, v, now); err != nil {
				add(name, err.Error())
			}
		}
	})
	if err != nil {
		return q, err
	}
	if err := farm.Invalid(farm.EINVALIDARG, "invalid change feed arguments", errs, 0); err != nil {
		if unknown {
			err.(*farm.Error).Message += " (the change feed takes " + changesArgNames + ")"
		}
		return changesQuery{limit: DefaultChangesLimit}, err
	}
	return q, nil
}

// parseSeq reads a sequence: a whole number from 0.
func parseSeq(s string) (int64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("must be a sequence (a whole number), not %s", farm.Quote(s))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if s == "" || err != nil {
		return 0, fmt.Errorf("must be a sequence (a whole number), not %s", farm.Quote(s))
	}
	return n, nil
}

func handleChanges(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseChanges(r.URL.RawQuery, o.Now())
		if err != nil {
			fail(w, r, o.Logger, err)
			return
		}
		stream := acceptsEventStream(r.Header.Get("Accept"))
		// A browser's EventSource resumes with the last id it saw.
		if id := r.Header.Get("Last-Event-ID"); stream && id != "" {
			n, err := parseSeq(strings.TrimSpace(id))
			if err != nil {
				fail(w, r, o.Logger, farm.Invalid(farm.EINVALIDARG, "invalid Last-Event-ID", []farm.FieldError{{Field: "Last-Event-ID", Message: err.Error()}}, 0))
				return
			}
			q.since, q.now = n, false
		}
		if q.now || q.since > 0 {
			// since=now is the newest change; a since past it (a typo, a
			// store restored from an older backup) is taken as the newest
			// too, so that a client going on from last_seq or the last id
			// misses none of the changes to come.
			past := q.since
			if q.now {
				past = 0
			}
			newest, err := newestChange(r.Context(), o.Feed, past)
			if err != nil {
				fail(w, r, o.Logger, err)
				return
			}
			if q.now || q.since > newest {
				q.since = newest
			}
		}
		if stream {
			streamChanges(w, r, o, q)
			return
		}
		results, last, err := readChanges(r.Context(), o.Feed, q.since, q.limit, q.filter)
		if err != nil {
			fail(w, r, o.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Results []farm.Change `json:"results"`
			LastSeq int64         `json:"last_seq"`
		}{results, last})
	})
}

// newestChange is the store's newest change, as far as a client that
// asks from since could have read. LastSeq may lag the log a moment
// (SQLite's moves once a commit is synced; the log shows it once
// committed): when since is past it, the log after it is read to its end.
func newestChange(ctx context.Context, st farm.ChangeFeed, since int64) (int64, error) {
	newest, err := st.LastSeq(ctx)
	if err != nil || since <= newest {
		return newest, err
	}
	for {
		cs, err := st.Changes(ctx, newest, 1000)
		if err != nil || len(cs) == 0 {
			return newest, err
		}
		newest = cs[len(cs)-1].Seq
		if len(cs) < 1000 {
			return newest, nil
		}
	}
}

// acceptsEventStream tells whether an Accept header asks for Server-Sent
// Events.
func acceptsEventStream(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			return true
		}
	}
	return false
}

// readChanges reads up to limit changes matching f after since, and the
// sequence to go on from: the last change read (matching or not), or
// since when there was none.
func readChanges(ctx context.Context, st farm.ChangeFeed, since int64, limit int, f farm.AnimalFilter) ([]farm.Change, int64, error) {
	results := []farm.Change{}
	last := since
	for scanned := 0; len(results) < limit && scanned < changesScan; {
		page := limit - len(results)
		if f != (farm.AnimalFilter{}) {
			page = 1000
		}
		cs, err := st.Changes(ctx, last, page)
		if err != nil {
			return nil, 0, err
		}
		for i := range cs {
			if len(results) == limit {
				return results, last, nil
			}
			last = cs[i].Seq
			if cs[i].Matches(f) {
				results = append(results, cs[i])
			}
		}
		scanned += len(cs)
		if len(cs) < page {
			break
		}
	}
	return results, last, nil
}

// streamChanges answers Server-Sent Events: the changes after q.since
// from the store, then each new one as the hub hands it out, each event's
// id its sequence; a comment every heartbeat keeps proxies from closing an
// idle stream. The stream ends when the client goes, when it falls too
// far behind, or when the instance shuts down; the client resumes from its
// last id, here or on another instance.
func streamChanges(w http.ResponseWriter, r *http.Request, o Options, q changesQuery) {
	ctx := r.Context()
	sub, upTo, err := o.Hub.Subscribe(ctx, q.filter)
	switch {
	case errors.Is(err, feed.ErrTooMany):
		fail(w, r, o.Logger, farm.Errorf(farm.EOVERLOADED, "too many change feed streams on this instance: try again shortly, or ask without Accept: text/event-stream"))
		return
	case errors.Is(err, feed.ErrClosed):
		fail(w, r, o.Logger, farm.Errorf(farm.EUNAVAILABLE, "this instance is shutting down: try again"))
		return
	case err != nil:
		fail(w, r, o.Logger, err)
		return
	}
	defer sub.Close()
	// The first catch-up read decides the status: a since no longer kept
	// is a 410 before the stream starts.
	first, err := o.Feed.Changes(ctx, q.since, 500)
	if err != nil {
		fail(w, r, o.Logger, err)
		return
	}
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // NGINX: pass each event on at once
	w.WriteHeader(http.StatusOK)

	sent := q.since
	var buf []byte
	emit := func(ev *feed.Event) {
		if ev.Seq <= sent || !ev.Matches(q.filter) {
			return
		}
		buf = append(buf, ev.SSE...)
		sent = ev.Seq
		o.Metrics.CountChangesSent(1)
	}
	flush := func() bool {
		if len(buf) > 0 {
			if _, err := w.Write(buf); err != nil {
				return false
			}
			buf = buf[:0]
		}
		return rc.Flush() == nil
	}
	buf = append(buf, "retry: 2000\n\n"...)
	// Catch up from the store to where the hub took over.
	for cs := first; ; {
		for i := range cs {
			ev := feed.Encode(cs[i])
			emit(&ev)
		}
		if !flush() {
			return
		}
		if len(cs) < 500 || cs[len(cs)-1].Seq >= upTo {
			break
		}
		if cs, err = o.Feed.Changes(ctx, cs[len(cs)-1].Seq, 500); err != nil {
			return // the client resumes from its last id
		}
	}
	heartbeat := time.NewTicker(o.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Done():
			buf = fmt.Appendf(buf, ": stream ended: %s; resume from the last id\n\n", sub.Reason())
			flush()
			return
		case <-heartbeat.C:
			buf = append(buf, ": heartbeat\n\n"...)
		case evs := <-sub.Events():
			for i := range evs {
				emit(&evs[i])
			}
		}
		if !flush() {
			return
		}
	}
}
