package validate

import (
	"testing"

	"github.com/farmhq/farm"
)

// The civil calendar has no year 0, though time.Parse takes "0000".
func TestDOBYearZero(t *testing.T) {
	cur := &farm.Animal{ID: "a", Species: "cow", Sex: "male", Rev: "1"}
	for _, dob := range []string{"0000-01-03", "0000-01-01", "0000-02-29", "0000-12-31"} {
		body := `{"id":"a","species":"cow","sex":"male","dob":"` + dob + `"}`
		want := dob + " is not a calendar date" // as for 2019-02-30
		check := func(what string, a *farm.Animal, err error) {
			t.Helper()
			if a != nil {
				t.Errorf("%s(%s) = %+v, want an error", what, body, *a)
			}
			fe := wantFields(t, err, "dob")
			if got := fe.Fields[0].Message; got != want {
				t.Errorf("%s(%s): dob: %q, want %q", what, body, got, want)
			}
		}
		a, err := DecodeAnimal([]byte(body), now)
		check("DecodeAnimal", a, err)
		a, err = Replacement("a", []byte(body), now)
		check("Replacement", a, err)
		a, err = Merge(cur, []byte(`{"dob":"`+dob+`"}`), now)
		check("Merge", a, err)
	}
	// Other faults of the same date are reported once, as before.
	_, err := DecodeAnimal([]byte(`{"id":"a","species":"cow","sex":"male","dob":"0000-02-30"}`), now)
	if fe := wantFields(t, err, "dob"); fe.Fields[0].Message != "0000-02-30 is not a calendar date" {
		t.Errorf("0000-02-30: %q", fe.Fields[0].Message)
	}
	// Year 1 is the first.
	for _, dob := range []string{"0001-01-01", "0001-12-31"} {
		want := farm.Animal{ID: "a", Species: "cow", Sex: "male", DOB: dob}
		a, err := DecodeAnimal([]byte(`{"id":"a","species":"cow","sex":"male","dob":"`+dob+`"}`), now)
		if err != nil || *a != want {
			t.Errorf("dob %s: %+v, %v", dob, a, err)
		}
	}
}
