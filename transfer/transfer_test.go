package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/internal/testbed"
	"github.com/farmhq/farm/store/couchdb"
	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/store/sqlite"
	"github.com/farmhq/farm/transfer"
)

var now = func() time.Time { return time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC) }

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "farm.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ndjson is n records as export writes them (json.Marshal's bytes).
func ndjson(n int) string {
	var b strings.Builder
	for i := range n {
		a := farm.Animal{ID: fmt.Sprintf("a-%04d", i), Species: []string{"cow", "chicken"}[i%2], Sex: "female",
			Name: fmt.Sprintf("Naïve \"%d\" <&> 🐄", i), DOB: fmt.Sprintf("2020-01-%02d", 1+i%28)}
		if i%3 == 0 {
			a.Name = ""
		}
		j, _ := json.Marshal(a)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func importAll(t *testing.T, dst farm.AnimalImporter, in string, opt transfer.Options) transfer.Report {
	t.Helper()
	opt.Now = now
	rep, err := transfer.Import(context.Background(), dst, strings.NewReader(in), opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func export(t *testing.T, st farm.AnimalStore) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := transfer.Export(context.Background(), transfer.Source(st), &b, nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// RAM -> NDJSON -> SQLite -> NDJSON -> RAM: every record and field, byte
// for byte, in id order.
func TestRoundTrip(t *testing.T) {
	in := ndjson(2500)
	r1 := ram.New()
	if rep := importAll(t, transfer.Sink(r1), in, transfer.Options{Batch: 300}); rep.Created != 2500 {
		t.Fatalf("into RAM: %+v", rep)
	}
	out1 := export(t, r1)
	if out1 != in {
		t.Fatalf("RAM export differs from the input:\n%.300s\nwant\n%.300s", out1, in)
	}
	s := openSQLite(t)
	if rep := importAll(t, transfer.Sink(s), out1, transfer.Options{}); rep.Created != 2500 {
		t.Fatalf("into SQLite: %+v", rep)
	}
	out2 := export(t, s)
	if out2 != in {
		t.Fatal("SQLite export differs from the input")
	}
	r2 := ram.New()
	importAll(t, transfer.Sink(r2), out2, transfer.Options{})
	if export(t, r2) != in {
		t.Fatal("RAM export after the round trip differs")
	}
	// And through a store without bulk operations: record by record.
	one := &plainStore{ram.New()}
	if rep := importAll(t, transfer.Sink(one), in, transfer.Options{Batch: 7}); rep.Created != 2500 {
		t.Fatalf("one by one: %+v", rep)
	}
	if export(t, one) != in {
		t.Fatal("export by listing differs")
	}
}

// plainStore hides a store's bulk operations.
type plainStore struct{ farm.AnimalStore }

// Bad lines are rejected with their line numbers and reasons; the others
// are written.
func TestImportRejects(t *testing.T) {
	in := `{"id":"a","species":"cow","sex":"female"}

{"id":"b","species":"pig","sex":"female"}
not json
{"id":"c","species":"cow","sex":"male","colour":"brown"}
{"id":"d","species":"Cow","sex":"MALE","dob":"2020-13-39"}
{"id":"e","species":"Chicken","sex":"Female"}
{"species":"cow","sex":"male"}
` + "{\"id\":\"f\",\"species\":\"cow\",\"sex\":\"male\",\"name\":\"" + strings.Repeat("x", 2<<20) + "\"}\n" +
		`{"id":"g","species":"cow","sex":"female"}`
	s := openSQLite(t)
	rep := importAll(t, transfer.Sink(s), in, transfer.Options{})
	if rep.Created != 3 || rep.Rejected != 6 {
		t.Fatalf("report %+v", rep)
	}
	want := []struct {
		line int
		id   string
		in   string
	}{{3, "b", "species"}, {4, "", "malformed JSON"}, {5, "c", "colour"}, {6, "d", "dob"}, {8, "", "id: is required"}, {9, "", "longer than"}}
	for i, w := range want {
		r := rep.Rejections[i]
		if r.Line != w.line || r.ID != w.id || !strings.Contains(r.Reason, w.in) {
			t.Errorf("rejection %d: %+v, want line %d id %q reason with %q", i, r, w.line, w.id, w.in)
		}
	}
	if a, err := s.FindAnimal(context.Background(), "e"); err != nil || a.Species != "chicken" || a.Sex != "female" {
		t.Errorf("e: %+v %v", a, err)
	}
}

// A JSON array is read as well as NDJSON.
func TestImportArray(t *testing.T) {
	s := openSQLite(t)
	rep := importAll(t, transfer.Sink(s), ` [{"id":"a","species":"cow","sex":"female"}, {"id":"b","species":"x","sex":"male"},
		{"id":"c","species":"cow","sex":"male"}]`, transfer.Options{})
	if rep.Created != 2 || rep.Rejected != 1 || rep.Rejections[0].Line != 2 {
		t.Fatalf("%+v", rep)
	}
}

// failAfter is an input that breaks after n bytes, as a killed pipe does.
type failAfter struct {
	r io.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("the input broke")
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// An import that stopped halfway finishes when run again: what it wrote
// is skipped, nothing is written twice.
func TestInterruptedImportFinishes(t *testing.T) {
	in := ndjson(5000)
	s := openSQLite(t)
	_, err := transfer.Import(context.Background(), transfer.Sink(s), &failAfter{strings.NewReader(in), len(in) / 2}, transfer.Options{Batch: 1000, Now: now})
	if err == nil {
		t.Fatal("no error from a broken input")
	}
	_, half, _ := s.ListAnimals(context.Background(), farm.AnimalFilter{}, farm.Page{})
	rep := importAll(t, transfer.Sink(s), in, transfer.Options{Batch: 1000})
	if rep.Created+rep.Skipped != 5000 || rep.Skipped != int64(half) || half == 0 {
		t.Fatalf("after %d of the first run: %+v", half, rep)
	}
	if export(t, s) != in {
		t.Fatal("the store after the rerun is not the input")
	}
}

func TestOnConflict(t *testing.T) {
	s := openSQLite(t)
	importAll(t, transfer.Sink(s), `{"id":"a","species":"cow","sex":"female","name":"Old"}`, transfer.Options{})
	in := `{"id":"0","species":"cow","sex":"male"}
{"id":"a","species":"cow","sex":"female","name":"New"}
{"id":"b","species":"cow","sex":"male"}`
	if rep := importAll(t, transfer.Sink(s), in, transfer.Options{Mode: farm.ImportSkip}); rep.Created != 2 || rep.Skipped != 1 {
		t.Fatalf("skip: %+v", rep)
	}
	if a, _ := s.FindAnimal(context.Background(), "a"); a.Name != "Old" {
		t.Fatalf("skip changed a: %+v", a)
	}
	if rep := importAll(t, transfer.Sink(s), in, transfer.Options{Mode: farm.ImportReplace}); rep.Replaced != 3 {
		t.Fatalf("replace: %+v", rep)
	}
	if a, _ := s.FindAnimal(context.Background(), "a"); a.Name != "New" {
		t.Fatalf("replace kept a: %+v", a)
	}
	s2 := openSQLite(t)
	importAll(t, transfer.Sink(s2), `{"id":"a","species":"cow","sex":"female"}`, transfer.Options{})
	rep := importAll(t, transfer.Sink(s2), in, transfer.Options{Mode: farm.ImportFail})
	if rep.Stopped == nil || rep.Stopped.Line != 2 || rep.Stopped.ID != "a" || rep.Created != 1 {
		t.Fatalf("fail: %+v", rep)
	}
	if _, err := s2.FindAnimal(context.Background(), "b"); farm.ErrorCode(err) != farm.ENOTFOUND {
		t.Fatalf("fail wrote what came after the conflict: %v", err)
	}
}

// SQLite -> NDJSON -> CouchDB -> NDJSON -> RAM -> SQLite: every record
// and field, byte for byte, through each store's own bulk import (a
// _bulk_docs request a batch on CouchDB) and export.
func TestRoundTripThroughCouchDB(t *testing.T) {
	// Ids CouchDB keeps for itself ("_...") first: they sort before "a-".
	in := `{"id":"_calf","species":"cow","sex":"male"}` + "\n" +
		`{"id":"_x.y~z","species":"chicken","sex":"female","name":"Ünder","dob":"2024-02-29"}` + "\n" + ndjson(1198)
	s1 := openSQLite(t)
	if rep := importAll(t, transfer.Sink(s1), in, transfer.Options{Batch: 500}); rep.Created != 1200 {
		t.Fatalf("into SQLite: %+v", rep)
	}
	out := export(t, s1)
	if out != in {
		t.Fatal("SQLite export differs from the input")
	}
	server := testbed.StartCouchDB(t)
	c, err := couchdb.Open(context.Background(), server+"/roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if rep := importAll(t, transfer.Sink(c), out, transfer.Options{Batch: 250}); rep.Created != 1200 {
		t.Fatalf("into CouchDB: %+v", rep)
	}
	// Again: every record exists, skipped, or replaced with itself.
	if rep := importAll(t, transfer.Sink(c), out, transfer.Options{Batch: 250}); rep.Skipped != 1200 {
		t.Fatalf("into CouchDB again: %+v", rep)
	}
	if rep := importAll(t, transfer.Sink(c), out, transfer.Options{Batch: 250, Mode: farm.ImportReplace}); rep.Replaced != 1200 {
		t.Fatalf("into CouchDB, replacing: %+v", rep)
	}
	out = export(t, c)
	if out != in {
		t.Fatalf("CouchDB export differs from the input:\n%.300s\nwant\n%.300s", out, in)
	}
	r := ram.New()
	importAll(t, transfer.Sink(r), out, transfer.Options{})
	out = export(t, r)
	s2 := openSQLite(t)
	importAll(t, transfer.Sink(s2), out, transfer.Options{})
	if export(t, s2) != in {
		t.Fatal("SQLite export at the end of the round trip differs from the start")
	}
}
