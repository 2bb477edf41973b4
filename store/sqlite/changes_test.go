package sqlite

import (
	"strings"
	"testing"

	"github.com/farmhq/farm"
)

// The feed's row decodes to the record and, after an update that moved it,
// the fields it had; a row of any other shape is an error, not a record.
func TestChangeDecode(t *testing.T) {
	j := func(f ...string) string { return strings.Join(f, sep) }
	var c change
	if err := c.decode(j("a", "2-x", "cow", "female", "Daisy", "2020-01-02")); err != nil || c.was != nil ||
		c.a != (farm.Animal{ID: "a", Rev: "2-x", Species: "cow", Sex: "female", Name: "Daisy", DOB: "2020-01-02"}) {
		t.Errorf("six fields: %+v %v %v", c.a, c.was, err)
	}
	c = change{}
	if err := c.decode(j("a", "3-y", "chicken", "female", "", "", "cow", "female", "Daisy", "2020-01-02")); err != nil ||
		c.a != (farm.Animal{ID: "a", Rev: "3-y", Species: "chicken", Sex: "female"}) ||
		c.was == nil || *c.was != (farm.Animal{Species: "cow", Sex: "female", Name: "Daisy", DOB: "2020-01-02"}) {
		t.Errorf("ten fields: %+v %v %v", c.a, c.was, err)
	}
	for _, n := range []int{1, 5, 7, 9, 11, 12} {
		c = change{}
		if err := c.decode(j(make([]string, n)...)); err == nil {
			t.Errorf("%d fields: no error", n)
		}
	}
}
