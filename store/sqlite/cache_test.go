package sqlite

import (
	"fmt"
	"testing"

	"github.com/farmhq/farm"
)

// The record cache keeps every record read while it has room; full, it
// keeps one only on its second read, in place of another.
func TestCacheDoorkeeper(t *testing.T) {
	c := newCache(3, 0)
	c.seen = make([]uint64, 1<<14) // a million bits: ids that share one, by chance, are out of the question
	rec := func(id string) *farm.Animal { return &farm.Animal{ID: id, Species: "cow", Sex: "male"} }
	has := func(id string) bool { _, ok := c.get(id, 0); return ok }
	for _, id := range []string{"a", "b", "c"} {
		c.put(rec(id), 0, 0)
		if !has(id) {
			t.Fatalf("%s not kept on its first read while the cache had room", id)
		}
	}
	c.put(rec("b"), 0, 0) // read again: stays, evicts nothing
	if len(c.m) != 3 {
		t.Fatalf("a record read again changed the cache's size to %d", len(c.m))
	}
	c.put(rec("d"), 0, 0)
	if has("d") || len(c.m) != 3 {
		t.Fatalf("full, the cache kept d on its first read (%d records)", len(c.m))
	}
	c.put(rec("d"), 0, 0)
	if !has("d") || len(c.m) != 3 {
		t.Fatalf("full, the cache did not keep d on its second read in place of another (%d records)", len(c.m))
	}
	// The doorkeeper forgets after as many first reads as the cache holds:
	// an id read once long ago counts as new.
	c.put(rec("e"), 0, 0)
	for i := range 3 {
		c.put(rec(fmt.Sprint("x", i)), 0, 0)
	}
	for i := range 3 {
		if has(fmt.Sprint("x", i)) {
			t.Fatalf("x%d kept on its first read", i)
		}
	}
	c.put(rec("e"), 0, 0)
	if has("e") {
		t.Fatal("e kept on a read long after its first: the doorkeeper does not forget")
	}
}
