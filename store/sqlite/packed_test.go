package sqlite

import (
	"strings"
	"testing"

	"github.com/farmhq/farm"
)

// Every record comes back from pack and unpack as it went in, in its
// compact forms or as text, and no bytes make unpack panic.
func FuzzPack(f *testing.F) {
	f.Add("cow", "female", "2020-01-02", "1-00ff00ff00ff00ff", "Daisy")
	f.Add("chicken", "male", "", "12-0123456789abcdef", "")
	f.Add("goat", "?", "9999-15-31", "01-0123456789abcdef", "x\x1fy")
	f.Add("cow", "male", "2020-1-02", "1-0123456789ABCDEF", "ü")
	f.Add("cow", "male", "0000-00-00", "4294967296-0123456789abcdef", "")
	long := strings.Repeat("x", 253)
	f.Add(long+"y", long+"yz", long+"yz", long, long) // 254 and 255 bytes: lengths past 253 in a byte
	f.Fuzz(func(t *testing.T, species, sex, dob, rev, name string) {
		a := farm.Animal{ID: "x", Species: species, Sex: sex, DOB: dob, Rev: rev, Name: name}
		b, ok := pack(nil, &a)
		if !ok {
			if len(species) <= 255 && len(sex) <= 255 && len(dob) <= 255 && len(rev) <= 255 {
				t.Fatalf("%+v not packed", a)
			}
			return
		}
		got := farm.Animal{ID: "x"}
		if !unpack(&got, b) || got != a {
			t.Fatalf("%+v came back as %+v", a, got)
		}
		for i := range b { // cut short: refused or read, never a panic
			unpack(&farm.Animal{}, b[:i])
		}
	})
}

// A record of the API's usual values takes about half its text.
func TestPackSize(t *testing.T) {
	a := farm.Animal{ID: "0000000-0000000", Species: "chicken", Sex: "female", DOB: "2022-11-03", Rev: "1-0123456789abcdef", Name: "name-616"}
	b, _ := pack(nil, &a)
	text := len(a.Species) + len(a.Sex) + len(a.DOB) + len(a.Rev) + len(a.Name) + 4
	if len(b) > text/2 {
		t.Fatalf("packed in %d bytes, its text %d", len(b), text)
	}
}

// No bytes make unpack panic: a cache's entry that does not read back is
// a miss.
func FuzzUnpack(f *testing.F) {
	b, _ := pack(nil, &farm.Animal{Species: "cow", Sex: "male", DOB: "2020-01-02", Rev: "1-0123456789abcdef", Name: "n"})
	f.Add(b)
	f.Add([]byte{formText, 255, 'x'})
	f.Add([]byte{formFirst, formFirst, formDate, 1, 2, 3, formRevHash, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		unpack(&farm.Animal{}, b)
	})
}
