package validate

import (
	"strings"
	"testing"

	"github.com/farmhq/farm"
)

func TestMerge(t *testing.T) {
	full := farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "Bessie", DOB: "2020-01-01", Rev: "7"}
	min := farm.Animal{ID: "a", Species: "cow", Sex: "female", Rev: "7"}
	cases := []struct {
		name   string
		cur    farm.Animal
		patch  string
		want   farm.Animal
		fields []string // when an error is expected
	}{
		{"empty patch", full, `{}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "Bessie", DOB: "2020-01-01"}, nil},
		{"replace name", full, `{"name":"Daisy"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "Daisy", DOB: "2020-01-01"}, nil},
		{"add name", min, `{"name":"Daisy"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "Daisy"}, nil},
		{"add dob", min, `{"dob":"2024-06-15"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", DOB: "2024-06-15"}, nil},
		{"remove name", full, `{"name":null}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", DOB: "2020-01-01"}, nil},
		{"remove dob and name", full, `{"dob":null,"name":null}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female"}, nil},
		{"remove absent name", min, `{"name":null}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female"}, nil},
		{"remove absent dob", min, `{"dob":null,"name":null}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female"}, nil},
		{"species normalised", full, `{"species":"CHICKEN","sex":"Male"}`,
			farm.Animal{ID: "a", Species: "chicken", Sex: "male", Name: "Bessie", DOB: "2020-01-01"}, nil},
		{"current normalised", farm.Animal{ID: "a", Species: "COW", Sex: "FEMALE"}, `{}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female"}, nil},
		{"id equal", full, `{"id":"a","name":"X"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "X", DOB: "2020-01-01"}, nil},
		{"id equal escaped", full, `{"\u0069d":"\u0061"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "Bessie", DOB: "2020-01-01"}, nil},
		{"everything", min, `{"id":"a","species":"chicken","sex":"male","name":"Rex","dob":"2020-02-29"}`,
			farm.Animal{ID: "a", Species: "chicken", Sex: "male", Name: "Rex", DOB: "2020-02-29"}, nil},

		{"id different", full, `{"id":"b"}`, farm.Animal{}, []string{"id"}},
		{"id case", full, `{"id":"A"}`, farm.Animal{}, []string{"id"}},
		{"id null", full, `{"id":null}`, farm.Animal{}, []string{"id"}},
		{"id number", full, `{"id":1}`, farm.Animal{}, []string{"id"}},
		{"id empty", full, `{"id":""}`, farm.Animal{}, []string{"id"}},
		{"remove species", full, `{"species":null}`, farm.Animal{}, []string{"species"}},
		{"remove sex", full, `{"sex":null}`, farm.Animal{}, []string{"sex"}},
		{"remove both", full, `{"sex":null,"species":null}`, farm.Animal{}, []string{"species", "sex"}},
		{"bad species", full, `{"species":"alien"}`, farm.Animal{}, []string{"species"}},
		{"kelvin", full, `{"species":"chic\u212Aen"}`, farm.Animal{}, []string{"species"}},
		{"bad dob", full, `{"dob":"2019-19-39"}`, farm.Animal{}, []string{"dob"}},
		{"future dob", full, `{"dob":"2024-06-16"}`, farm.Animal{}, []string{"dob"}},
		{"empty name", full, `{"name":""}`, farm.Animal{}, []string{"name"}},
		{"control name", full, `{"name":"a\u0000"}`, farm.Animal{}, []string{"name"}},
		{"number name", full, `{"name":5}`, farm.Animal{}, []string{"name"}},
		{"object name", full, `{"name":{"first":"B"}}`, farm.Animal{}, []string{"name"}},
		{"array sex", full, `{"sex":["male"]}`, farm.Animal{}, []string{"sex"}},
		{"unknown", full, `{"colour":"brown"}`, farm.Animal{}, []string{"colour"}},
		{"unknown null", full, `{"colour":null}`, farm.Animal{}, []string{"colour"}},
		{"misspelt removal", full, `{"nmae":null}`, farm.Animal{}, []string{"nmae"}},
		{"unknown object", full, `{"colour":{"a":1}}`, farm.Animal{}, []string{"colour"}},
		{"Rev", full, `{"Rev":"8"}`, farm.Animal{}, []string{"Rev"}},
		{"duplicate", full, `{"name":"x","name":"y"}`, farm.Animal{}, []string{"name"}},
		{"duplicate escaped", full, `{"name":"x","n\u0061me":null}`, farm.Animal{}, []string{"name"}},
		{"several", full, `{"species":"pig","sex":null,"name":1,"x":2}`, farm.Animal{}, []string{"species", "sex", "name", "x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cur := c.cur
			before := cur
			got, err := Merge(&cur, []byte(c.patch), now)
			if cur != before {
				t.Errorf("Merge modified its input: %+v, was %+v", cur, before)
			}
			if c.fields != nil {
				if got != nil {
					t.Errorf("got an animal %+v with the error", got)
				}
				wantFields(t, err, c.fields...)
				return
			}
			if err != nil {
				t.Fatalf("Merge(%+v, %s) = %v", c.cur, c.patch, err)
			}
			if got == &cur {
				t.Error("Merge returned its input")
			}
			if *got != c.want {
				t.Errorf("Merge(%+v, %s) = %+v, want %+v", c.cur, c.patch, *got, c.want)
			}
			if err := got.Validate(now); err != nil {
				t.Errorf("the result does not validate: %v", err)
			}
		})
	}
}

func TestMergeIDMessage(t *testing.T) {
	cur := farm.Animal{ID: "a", Species: "cow", Sex: "female"}
	_, err := Merge(&cur, []byte(`{"id":"b"}`), now)
	fe := wantFields(t, err, "id")
	if !strings.Contains(fe.Message, "cannot change") || !strings.Contains(fe.Message, `"a"`) {
		t.Errorf("message %q", fe.Message)
	}
}

func TestMergeMalformed(t *testing.T) {
	cur := farm.Animal{ID: "a", Species: "cow", Sex: "female"}
	for _, patch := range []string{
		"", " ", "null", "[]", `[{"name":"x"}]`, `"name"`, "1", "true",
		`{"name":"x"`, `{"name":"x"} {}`, `{"name":"x"}x`, "{\"name\":\"\xff\"}",
	} {
		got, err := Merge(&cur, []byte(patch), now)
		if got != nil {
			t.Errorf("Merge(%q) = %+v, want an error", patch, got)
		}
		farmError(t, err)
	}
}

// The result does not share memory with the input that a later change of
// the result could reach.
func TestMergeResultIndependent(t *testing.T) {
	cur := &farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "Bessie"}
	got, err := Merge(cur, []byte(`{}`), now)
	if err != nil {
		t.Fatal(err)
	}
	got.Name = "Changed"
	got.Species = "chicken"
	if cur.Name != "Bessie" || cur.Species != "cow" {
		t.Errorf("changing the result changed the input: %+v", cur)
	}
}
