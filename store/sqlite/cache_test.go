package sqlite

import (
	"fmt"
	"testing"

	"github.com/farmhq/farm"
)

// The record cache keeps every record read while it has room; full, it
// keeps one only on its second read, in place of the oldest.
func TestCacheDoorkeeper(t *testing.T) {
	c := mustCache(t)
	c.seen = make([]uint64, 1<<14) // a million bits: ids that share one, by chance, are out of the question
	rec := func(id string) *farm.Animal { return &farm.Animal{ID: id, Species: "cow", Sex: "male", Rev: "1-ab"} }
	has := func(id string) bool { _, ok := c.get(id, 0); return ok }
	for i := 0; !c.kept.Full(); i++ {
		id := fmt.Sprint("f", i)
		if c.put(rec(id), 0, 0); !has(id) {
			t.Fatalf("%s not kept on its first read while the cache had room", id)
		}
	}
	c.put(rec("d"), 0, 0)
	if has("d") {
		t.Fatal("full, the cache kept d on its first read")
	}
	c.put(rec("d"), 0, 0)
	if !has("d") {
		t.Fatal("full, the cache did not keep d on its second read")
	}
	// The doorkeeper forgets after a ninth of its bits: an id read once
	// long ago counts as new.
	c.put(rec("e"), 0, 0)
	for i := range 3 {
		c.put(rec(fmt.Sprint("x", i)), 0, 0)
		if has(fmt.Sprint("x", i)) {
			t.Fatalf("x%d kept on its first read", i)
		}
	}
	for i := 0; c.nSeen > 0; i++ { // first reads until it forgets
		c.put(rec(fmt.Sprint("y", i)), 0, 0)
	}
	c.put(rec("e"), 0, 0)
	if has("e") {
		t.Fatal("e kept on a read long after its first: the doorkeeper does not forget")
	}
}

// A record comes back from the cache as it went in, whatever its fields
// hold; a change to it forgets it, and a gap in the log forgets them all.
func TestCacheRecords(t *testing.T) {
	c := mustCache(t)
	recs := []*farm.Animal{
		{ID: "a", Species: "cow", Sex: "female", Name: "Daisy", DOB: "2020-01-02", Rev: "1-00ff"},
		{ID: "b", Species: "chicken", Sex: "male", Rev: "3-abcd"},
		{ID: "c", Species: "sheep", Sex: "female", Name: "a\x1fb " + unitSep + " ünïcode", Rev: "2-01"},
		{ID: "d", Species: "cow", Sex: "male", DOB: "1999-12-31", Rev: "7-0123456789abcdef"}, // as store.NextRev makes them
	}
	for _, a := range recs {
		c.put(a, 0, 0)
		got, ok := c.get(a.ID, 0)
		if !ok || *got != *a {
			t.Fatalf("got %+v, %v; want %+v", got, ok, a)
		}
	}
	if _, ok := c.get("a", 1); ok {
		t.Fatal("served a record at a sequence the cache has not applied")
	}
	c.apply([]change{{a: farm.Animal{ID: "a"}}}, false, 1)
	if _, ok := c.get("a", 1); ok {
		t.Fatal("a changed record was served")
	}
	if _, ok := c.get("b", 1); !ok {
		t.Fatal("an unchanged record was forgotten")
	}
	c.put(recs[0], 0, 1) // read while a change was committed: not kept
	if _, ok := c.get("a", 1); ok {
		t.Fatal("a record read across a commit was kept")
	}
	c.apply(nil, true, 2)
	if _, ok := c.get("b", 2); ok {
		t.Fatal("a gap did not forget every record")
	}
}

func mustCache(t *testing.T) *cache {
	t.Helper()
	c, err := newCache(64<<10, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.close() })
	return c
}
