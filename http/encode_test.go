package http

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/farmhq/farm"
)

// The hand-written encoders write what encoding/json writes.
func TestEncodersMatchEncodingJSON(t *testing.T) {
	type ref struct {
		ID   string `json:"id"`
		Href string `json:"_href"`
	}
	type record struct {
		ID      string `json:"id"`
		Species string `json:"species"`
		Sex     string `json:"sex"`
		Name    string `json:"name,omitempty"`
		DOB     string `json:"dob,omitempty"`
		Href    string `json:"_href"`
		Rev     string `json:"_rev"`
	}
	for _, a := range []farm.Animal{
		{ID: "a", Species: "cow", Sex: "female", Rev: "1-x"},
		{ID: "b~c.d_e", Species: "chicken", Sex: "male", Name: `Béa "the" <hen> & co\\ 🐔` + "\u2028\u2029\x7f", DOB: "2020-02-29", Rev: "12-ab"},
	} {
		want, _ := json.Marshal(a)
		if got := appendAnimal(nil, &a); string(got) != string(want) {
			t.Errorf("appendAnimal:\n got %s\nwant %s", got, want)
		}
		base := "http://farm.example:44444"
		want, _ = json.Marshal(ref{ID: a.ID, Href: base + animalPath(a.ID)})
		if got := appendRef(nil, a.ID, base); string(got) != string(want) {
			t.Errorf("appendRef:\n got %s\nwant %s", got, want)
		}
		want, _ = json.Marshal(record{a.ID, a.Species, a.Sex, a.Name, a.DOB, base + animalPath(a.ID), a.Rev})
		if got := appendRecord(nil, &a, base); string(got) != string(want) {
			t.Errorf("appendRecord:\n got %s\nwant %s", got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "<>&", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "é🐄", strings.Repeat("x", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Skip()
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
