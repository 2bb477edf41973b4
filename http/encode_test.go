package http

import (
	"encoding/json"
	"testing"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/jsonenc"
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
		if got := jsonenc.Animal(nil, &a); string(got) != string(want) {
			t.Errorf("jsonenc.Animal:\n got %s\nwant %s", got, want)
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
