// Package couchdb is the animal store on CouchDB (DATASTORE='CouchDB'),
// through kivik: the store to share between machines, where SQLite's file
// locks cannot reach.
//
// The layout is the original farm's (its DataSetCouchDB), so that farm
// serves the original's database as it is: the database db_animal unless
// COUCHDB_URL names one; one document per animal, whose _id is the
// animal's id and whose members are the record's fields at the top level
// (id, species, sex, and name and dob when set), nothing else. CouchDB
// keeps ids that start with "_" for itself: such an id is stored as "="
// and the id ("_calf" is the document "=_calf"); no valid id starts with
// "=", so no two ids meet. The original stored species and sex as posted
// ("Cow"): farm reads them in lower case, and its views index them so. A
// document without species and sex is not an animal: listings skip it.
// farm adds one design document, whose views, in raw (byte) collation so
// that records come in id byte order, serve listings, filters and their
// counts (_count reduces). A document's _rev is the animal's ETag.
package couchdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb" // the "couch" driver

	"github.com/farmhq/farm"
)

const (
	// DefaultDatabase is the original farm's database, used when
	// COUCHDB_URL names none.
	DefaultDatabase = "db_animal"
	designID        = "_design/farm"
	designName      = "farm"
	// escape starts the document id of an animal id that starts with "_".
	escape = "="
	// high sorts after every id (ids are ASCII) in raw and ICU collation.
	high = "\uffff"
)

// docID is the document id of an animal id.
func docID(id string) string {
	if strings.HasPrefix(id, "_") {
		return escape + id
	}
	return id
}

// animalID is the animal id of a document id.
func animalID(docID string) string {
	if strings.HasPrefix(docID, escape+"_") {
		return docID[len(escape):]
	}
	return docID
}

// views are the listing's indexes. Keys end with the animal id, so that a
// range of one key prefix comes in id order.
var views = map[string]any{
	"all":         view(`emit(id, null)`),
	"species":     view(`emit([species, id], null)`),
	"sex":         view(`emit([sex, id], null)`),
	"species_sex": view(`emit([species, sex, id], null)`),
	"name":        view(`if (typeof doc.name === "string" && doc.name) emit([doc.name, id], null)`),
	"dob":         view(`if (typeof doc.dob === "string" && doc.dob) emit([doc.dob, id], null)`),
}

// view is a map function over the animals (documents with a species and a
// sex), with id, species and sex as farm reads them, and a _count reduce.
func view(emit string) map[string]any {
	return map[string]any{
		"map": `function (doc) {
  if (typeof doc.species !== "string" || typeof doc.sex !== "string") return;
  var id = doc._id.substring(0, 2) === "` + escape + `_" ? doc._id.substring(1) : doc._id;
  var species = doc.species.toLowerCase(), sex = doc.sex.toLowerCase();
  ` + emit + `;
}`,
		"reduce": "_count",
	}
}

// doc is an animal as CouchDB holds it. Read, it takes what it can from
// any document (a member of the wrong type reads as missing); written, it
// is the original's shape.
type doc struct {
	ID      string `json:"_id"`
	Rev     string `json:"_rev,omitempty"`
	Animal  string `json:"id"`
	Species string `json:"species"`
	Sex     string `json:"sex"`
	Name    string `json:"name,omitempty"`
	DOB     string `json:"dob,omitempty"`
}

func (d *doc) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	str := func(k string) string { v, _ := m[k].(string); return v }
	*d = doc{ID: str("_id"), Rev: str("_rev"), Animal: str("id"), Species: str("species"), Sex: str("sex"), Name: str("name"), DOB: str("dob")}
	return nil
}

func toDoc(a *farm.Animal, rev string) doc {
	return doc{ID: docID(a.ID), Rev: rev, Animal: a.ID, Species: a.Species, Sex: a.Sex, Name: a.Name, DOB: a.DOB}
}

// isAnimal tells an animal from another document (the views' test).
func (d *doc) isAnimal() bool { return d.Species != "" && d.Sex != "" }

// animal is the record as farm serves it: the id from the document's id,
// species and sex in lower case, name and dob as stored.
func (d *doc) animal() *farm.Animal {
	return &farm.Animal{ID: animalID(d.ID), Species: strings.ToLower(d.Species), Sex: strings.ToLower(d.Sex), Name: d.Name, DOB: d.DOB, Rev: d.Rev}
}

// Store is a farm.AnimalStore in one CouchDB database.
type Store struct {
	client *kivik.Client
	db     *kivik.DB
	name   string

	// The change feed's tokens: CouchDB 2 and later give opaque ones.
	tokensMu sync.Mutex
	tokens   map[int64]string
	opaque   bool
}

var _ farm.AnimalStore = (*Store)(nil)

// Open connects to the database that rawURL names: the server's URL,
// with credentials if needed, and the database as its path
// (http://admin:secret@127.0.0.1:5984/farm); without a path, db_animal,
// the original farm's. The database and the design document are created
// when missing.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("couchdb: bad COUCHDB_URL")
	}
	name := strings.Trim(u.Path, "/")
	if name == "" {
		name = DefaultDatabase
	}
	if strings.Contains(name, "/") {
		return nil, fmt.Errorf("couchdb: the URL's path must be one database name, not %q", name)
	}
	u.Path, u.RawPath = "", ""
	client, err := kivik.New("couch", u.String(), couchdb.OptionHTTPClient(&http.Client{Transport: &http.Transport{
		// A CouchDB that is down or frozen is an answer within seconds
		// (503), not a request that hangs until its client gives up.
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}}))
	if err != nil {
		return nil, fmt.Errorf("couchdb: %w", err)
	}
	s := &Store{client: client, name: name}
	if err := s.prepare(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("couchdb %s (database %s): %w", u.Redacted(), name, err)
	}
	return s, nil
}

// prepare creates the database and the design document when missing, and
// updates the design document when its views differ from these. Several
// instances may do it at once: the losers of a race see the winner's work.
func (s *Store) prepare(ctx context.Context) error {
	exists, err := s.client.DBExists(ctx, s.name)
	if err != nil {
		return err
	}
	if !exists {
		if err := s.client.CreateDB(ctx, s.name); err != nil && kivik.HTTPStatus(err) != http.StatusPreconditionFailed {
			return err
		}
	}
	s.db = s.client.DB(s.name)
	for attempt := 0; attempt < 5; attempt++ {
		var cur struct {
			Rev     string         `json:"_rev"`
			Options map[string]any `json:"options"`
			Views   map[string]any `json:"views"`
		}
		err := s.db.Get(ctx, designID).ScanDoc(&cur)
		if err != nil && kivik.HTTPStatus(err) != http.StatusNotFound {
			return err
		}
		want := map[string]any{"options": map[string]any{"collation": "raw"}, "views": views}
		if err == nil && sameJSON(cur.Views, views) && sameJSON(cur.Options, want["options"]) {
			return nil
		}
		if cur.Rev != "" {
			want["_rev"] = cur.Rev
		}
		if _, err := s.db.Put(ctx, designID, want); err == nil || kivik.HTTPStatus(err) != http.StatusConflict {
			return err
		}
	}
	return errors.New("cannot update the design document: it keeps changing")
}

// sameJSON compares two values as JSON would: through maps of any.
func sameJSON(a, b any) bool {
	return reflect.DeepEqual(normalise(a), normalise(b))
}

func normalise(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, x := range t {
			m[k] = normalise(x)
		}
		return m
	case map[string]string:
		m := map[string]any{}
		for k, x := range t {
			m[k] = x
		}
		return m
	}
	return v
}

// fail turns a CouchDB error into farm's.
func fail(err error, id string) error {
	switch kivik.HTTPStatus(err) {
	case http.StatusNotFound:
		return farm.Errorf(farm.ENOTFOUND, "animal %q not found", id)
	case http.StatusConflict:
		return farm.Errorf(farm.ECONFLICT, "animal %q exists", id)
	}
	return failure(err)
}

// failure is an error of CouchDB's that is not about one record. CouchDB
// unreachable, timing out, or failing (5xx; kivik says 500 for a
// connection refused too), or refusing farm's credentials: the store is
// unavailable (503, try again later), and the operator finds the cause in
// the log. A request its client gave up stays as it is.
func failure(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	switch status := kivik.HTTPStatus(err); {
	case status >= 500, status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusTooManyRequests, errors.Is(err, context.DeadlineExceeded):
		return &farm.Error{Code: farm.EUNAVAILABLE, Message: "the store (CouchDB) is unavailable", Err: fmt.Errorf("couchdb: %w", err)}
	}
	return fmt.Errorf("couchdb: %w", err)
}

// CreateAnimal implements farm.AnimalStore.
func (s *Store) CreateAnimal(ctx context.Context, a *farm.Animal) error {
	rev, err := s.db.Put(ctx, docID(a.ID), toDoc(a, ""))
	if err != nil {
		return fail(err, a.ID)
	}
	a.Rev = rev
	return nil
}

// FindAnimal implements farm.AnimalStore.
func (s *Store) FindAnimal(ctx context.Context, id string) (*farm.Animal, error) {
	var d doc
	if err := s.db.Get(ctx, docID(id)).ScanDoc(&d); err != nil {
		return nil, fail(err, id)
	}
	if !d.isAnimal() {
		return nil, farm.Errorf(farm.ENOTFOUND, "animal %q not found", id)
	}
	return d.animal(), nil
}

// changed tells a stale revision from a missing record, after CouchDB
// refused a write with rev (409, or 400 for a rev it cannot parse).
func (s *Store) changed(ctx context.Context, err error, id string) error {
	// CouchDB says 409 for a stale revision and 400 for one it cannot
	// parse; PouchDB says 404 for one it does not know. Either way: does
	// the record exist?
	switch kivik.HTTPStatus(err) {
	case http.StatusConflict, http.StatusBadRequest, http.StatusNotFound:
	default:
		return fail(err, id)
	}
	if _, err := s.FindAnimal(ctx, id); err != nil {
		return err
	}
	return farm.Errorf(farm.EPRECONDITION, "animal %q has changed", id)
}

// ReplaceAnimal implements farm.AnimalStore: CouchDB's own
// compare-and-swap, a PUT with the _rev the client read.
func (s *Store) ReplaceAnimal(ctx context.Context, a *farm.Animal, rev string) error {
	if rev == "" {
		return farm.Errorf(farm.EPRECONDITION, "animal %q: no revision given", a.ID)
	}
	newRev, err := s.db.Put(ctx, docID(a.ID), toDoc(a, rev))
	if err != nil {
		return s.changed(ctx, err, a.ID)
	}
	a.Rev = newRev
	return nil
}

// DeleteAnimal implements farm.AnimalStore.
func (s *Store) DeleteAnimal(ctx context.Context, id, rev string) error {
	if rev != "" {
		if _, err := s.db.Delete(ctx, docID(id), rev); err != nil {
			return s.changed(ctx, err, id)
		}
		return nil
	}
	// Unconditional: delete whatever revision is current, again if another
	// writer changed it in between.
	for attempt := 0; ; attempt++ {
		// The revision from the document itself: a HEAD's ETag is not the
		// revision on every CouchDB-compatible server.
		cur, err := s.FindAnimal(ctx, id)
		if err != nil {
			return err
		}
		_, err = s.db.Delete(ctx, docID(id), cur.Rev)
		if err == nil || kivik.HTTPStatus(err) != http.StatusConflict || attempt == 20 {
			if err != nil {
				return fail(err, id)
			}
			return nil
		}
	}
}

// ListAnimals implements farm.AnimalStore. The most selective view serves
// the filter (name, then dob, then species and sex); a filter the view's
// key does not cover is applied while reading that view's range.
func (s *Store) ListAnimals(ctx context.Context, f farm.AnimalFilter, pg farm.Page) ([]*farm.Animal, int, error) {
	var name string
	var prefix []any
	exact := false // the view's key range is exactly the filter
	switch {
	case f.Name != "":
		name, prefix, exact = "name", []any{f.Name}, f.Species == "" && f.Sex == "" && f.DOB == ""
	case f.DOB != "":
		name, prefix, exact = "dob", []any{f.DOB}, f.Species == "" && f.Sex == ""
	case f.Species != "" && f.Sex != "":
		name, prefix, exact = "species_sex", []any{f.Species, f.Sex}, true
	case f.Species != "":
		name, prefix, exact = "species", []any{f.Species}, true
	case f.Sex != "":
		name, prefix, exact = "sex", []any{f.Sex}, true
	default:
		name, exact = "all", true
	}
	// key is the view key of an animal id in this range.
	key := func(id string) any {
		if name == "all" {
			return id
		}
		return append(append([]any{}, prefix...), id)
	}
	rangeParams := func() map[string]any {
		return map[string]any{"startkey": key(""), "endkey": key(high)}
	}
	out := []*farm.Animal{}
	if !exact {
		// Read the range, keep the matches, then take the page from them.
		var all []*farm.Animal
		params := rangeParams()
		params["reduce"], params["include_docs"] = false, true
		err := s.rows(ctx, name, params, func(d *doc) {
			a := d.animal()
			if (f.Species == "" || a.Species == f.Species) && (f.Sex == "" || a.Sex == f.Sex) && (f.DOB == "" || a.DOB == f.DOB) {
				all = append(all, a)
			}
		})
		return pageOf(all, pg), len(all), err
	}
	total, err := s.count(ctx, name, rangeParams())
	if err != nil || pg.Limit <= 0 {
		return out, total, err
	}
	params := rangeParams()
	params["reduce"], params["include_docs"] = false, true
	switch {
	case pg.After != "":
		// From the cursor on; the cursor's own record, if still there, is
		// not part of the page.
		params["startkey"], params["limit"] = key(pg.After), pg.Limit+1
	case pg.Before != "":
		params["descending"], params["startkey"], params["endkey"], params["limit"] = true, key(pg.Before), key(""), pg.Limit+1
	default:
		if pg.Offset >= total {
			return out, total, nil
		}
		params["skip"], params["limit"] = pg.Offset, pg.Limit
	}
	err = s.rows(ctx, name, params, func(d *doc) {
		if a := d.animal(); a.ID != pg.After && a.ID != pg.Before || pg.After == "" && pg.Before == "" {
			out = append(out, a)
		}
	})
	if len(out) > pg.Limit {
		out = out[:pg.Limit]
	}
	if pg.Before != "" {
		slices.Reverse(out)
	}
	return out, total, err
}

// pageOf takes the page pg from records in id order.
func pageOf(all []*farm.Animal, pg farm.Page) []*farm.Animal {
	ids := func(i int) string { return all[i].ID }
	from, to := 0, 0
	switch {
	case pg.After != "":
		from = sort.Search(len(all), func(i int) bool { return ids(i) > pg.After })
		to = min(len(all), from+pg.Limit)
	case pg.Before != "":
		to = sort.Search(len(all), func(i int) bool { return ids(i) >= pg.Before })
		from = max(0, to-pg.Limit)
	default:
		from = min(pg.Offset, len(all))
		to = min(len(all), from+max(0, pg.Limit))
	}
	return append([]*farm.Animal{}, all[from:max(from, to)]...)
}

// count runs the view's _count reduce over a key range.
func (s *Store) count(ctx context.Context, view string, params map[string]any) (int, error) {
	p := map[string]any{"reduce": true}
	for k, v := range params {
		p[k] = v
	}
	rs := s.db.Query(ctx, designName, view, kivik.Params(p))
	defer rs.Close()
	n := 0
	for rs.Next() {
		var v int
		if err := rs.ScanValue(&v); err != nil {
			return 0, failure(err)
		}
		n += v
	}
	if err := rs.Err(); err != nil {
		return 0, failure(err)
	}
	return n, nil
}

func (s *Store) rows(ctx context.Context, view string, params map[string]any, each func(*doc)) error {
	rs := s.db.Query(ctx, designName, view, kivik.Params(params))
	defer rs.Close()
	for rs.Next() {
		var d doc
		if err := rs.ScanDoc(&d); err != nil {
			return failure(err)
		}
		each(&d)
	}
	if err := rs.Err(); err != nil {
		return failure(err)
	}
	return nil
}

// Ping implements farm.AnimalStore: the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.DBExists(ctx, s.name)
	if err != nil {
		return failure(err)
	}
	if !ok {
		return &farm.Error{Code: farm.EUNAVAILABLE, Message: "the store (CouchDB) is unavailable", Err: fmt.Errorf("couchdb: database %s is gone", s.name)}
	}
	return nil
}

// Close implements farm.AnimalStore.
func (s *Store) Close() error { return s.client.Close() }

var _ farm.AnimalImporter = (*Store)(nil)

// ImportAnimals implements farm.AnimalImporter: one _all_docs request for
// the batch's current revisions, then one _bulk_docs request for its
// writes. CouchDB has no transactions across documents: a batch that
// fails halfway leaves the documents written so far, which a rerun skips
// (or replaces). A document another writer created in between is taken
// as existing.
func (s *Store) ImportAnimals(ctx context.Context, batch []*farm.Animal, mode farm.ImportMode) ([]farm.ImportOutcome, error) {
	out := make([]farm.ImportOutcome, len(batch))
	for i := range out {
		out[i] = farm.NotTried
	}
	keys := make([]string, len(batch))
	for i, a := range batch {
		keys[i] = docID(a.ID)
	}
	revs, err := s.revs(ctx, keys)
	if err != nil {
		return nil, err
	}
	var docs []any
	var which []int // the batch index of each of docs
	seen := map[string]bool{}
	for i, a := range batch {
		rev, exists := revs[keys[i]]
		exists = exists || seen[a.ID] // twice in one batch: the second exists
		seen[a.ID] = true
		switch {
		case !exists:
			out[i] = farm.Created
		case mode == farm.ImportSkip:
			out[i] = farm.Skipped
			continue
		case mode == farm.ImportFail:
			out[i] = farm.Conflicted
		default:
			out[i] = farm.Replaced
		}
		if out[i] == farm.Conflicted {
			break
		}
		docs = append(docs, toDoc(a, rev))
		which = append(which, i)
	}
	if len(docs) == 0 {
		return out, nil
	}
	results, err := s.db.BulkDocs(ctx, docs)
	if err != nil {
		return nil, failure(err)
	}
	for j, r := range results {
		i := which[j]
		if r.Error == nil {
			continue
		}
		if kivik.HTTPStatus(r.Error) != http.StatusConflict {
			return nil, failure(r.Error)
		}
		// Written by another in between (or twice in this batch).
		switch mode {
		case farm.ImportSkip:
			out[i] = farm.Skipped
		case farm.ImportFail:
			out[i] = farm.Conflicted
			for k := i + 1; k < len(out); k++ {
				out[k] = farm.NotTried // not undone: CouchDB has no transactions
			}
			return out, nil
		default:
			if err := s.replace(ctx, batch[i]); err != nil {
				return nil, err
			}
			out[i] = farm.Replaced
		}
	}
	return out, nil
}

// revs returns the current revision of each of the documents ids that
// exists (deleted ones do not), in one request.
func (s *Store) revs(ctx context.Context, ids []string) (map[string]string, error) {
	rs := s.db.AllDocs(ctx, kivik.Params(map[string]any{"keys": ids}))
	defer rs.Close()
	revs := map[string]string{}
	for rs.Next() {
		var v struct {
			Rev     string `json:"rev"`
			Deleted bool   `json:"deleted"`
		}
		if err := rs.ScanValue(&v); err != nil {
			if kivik.HTTPStatus(err) == http.StatusNotFound {
				continue
			}
			return nil, failure(err)
		}
		if id, err := rs.ID(); err == nil && !v.Deleted && v.Rev != "" {
			revs[id] = v.Rev
		}
	}
	if err := rs.Err(); err != nil {
		return nil, failure(err)
	}
	return revs, nil
}

// replace writes a over whatever revision is current.
func (s *Store) replace(ctx context.Context, a *farm.Animal) error {
	for attempt := 0; ; attempt++ {
		rev, err := s.db.GetRev(ctx, docID(a.ID))
		if err != nil && kivik.HTTPStatus(err) != http.StatusNotFound {
			return failure(err)
		}
		_, err = s.db.Put(ctx, docID(a.ID), toDoc(a, rev))
		if err == nil || kivik.HTTPStatus(err) != http.StatusConflict || attempt == 20 {
			if err != nil {
				return fail(err, a.ID)
			}
			return nil
		}
	}
}

var _ farm.ChangeFeed = (*Store)(nil)

// seqNumber is farm's sequence of a CouchDB update sequence: the number it
// starts with. CouchDB 1 and PouchDB count updates (1, 2, ...); CouchDB 2
// and later give "N-opaque", where N counts the database's updates.
func seqNumber(seq string) int64 {
	n := int64(0)
	for i := 0; i < len(seq) && seq[i] >= '0' && seq[i] <= '9'; i++ {
		n = n*10 + int64(seq[i]-'0')
	}
	return n
}

// LastSeq implements farm.ChangeFeed: the database's update sequence.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	st, err := s.db.Stats(ctx)
	if err != nil {
		return 0, failure(err)
	}
	n := seqNumber(st.UpdateSeq)
	s.remember(n, st.UpdateSeq)
	return n, nil
}

// Changes implements farm.ChangeFeed from CouchDB's own _changes: farm's
// sequence is the number CouchDB's starts with. CouchDB takes back the
// tokens it gave (the store remembers the last ones) or a plain number on
// CouchDB 1 and PouchDB; otherwise it reads from the start and skips what
// is not after since. Documents that are not animals, and farm's design
// document, are not changes of the feed.
func (s *Store) Changes(ctx context.Context, since int64, limit int) ([]farm.Change, error) {
	from := s.tokenFor(since)
	var out []farm.Change
	for len(out) < limit {
		params := map[string]any{"since": from, "include_docs": true, "limit": limit}
		ch := s.db.Changes(ctx, kivik.Params(params))
		n := 0
		for ch.Next() {
			n++
			seq := ch.Seq()
			from = seq
			num := seqNumber(seq)
			s.remember(num, seq)
			if num <= since || strings.HasPrefix(ch.ID(), "_design/") {
				continue
			}
			c := farm.Change{Seq: num, ID: animalID(ch.ID())}
			if ch.Deleted() {
				c.Kind = farm.ChangeDeleted
			} else {
				var d doc
				if err := ch.ScanDoc(&d); err != nil || !d.isAnimal() {
					continue
				}
				a := d.animal()
				fields := *a
				fields.Rev = ""
				c.Kind, c.Rev, c.Animal, c.Fields = farm.ChangeUpdated, a.Rev, a, &fields
				if strings.HasPrefix(a.Rev, "1-") {
					c.Kind = farm.ChangeCreated
				}
			}
			out = append(out, c)
			if len(out) == limit {
				break
			}
		}
		err := ch.Err()
		ch.Close()
		if err != nil {
			return nil, failure(err)
		}
		if n < limit {
			break
		}
	}
	return out, nil
}

// tokenFor is what to give CouchDB as since for farm's sequence n: the
// token it gave with n when this store saw it, else n itself (CouchDB 1,
// PouchDB) or 0 (CouchDB 2 and later refuse numbers: read from the start).
func (s *Store) tokenFor(n int64) string {
	if n == 0 {
		return "0"
	}
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	if t, ok := s.tokens[n]; ok {
		return t
	}
	if s.opaque {
		return "0"
	}
	return strconv.FormatInt(n, 10)
}

// remember keeps the token of a sequence (the last few thousand).
func (s *Store) remember(n int64, token string) {
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	if s.tokens == nil {
		s.tokens = map[int64]string{}
	}
	if strings.Contains(token, "-") {
		s.opaque = true
	}
	if len(s.tokens) >= 4096 {
		clear(s.tokens)
	}
	s.tokens[n] = token
}
