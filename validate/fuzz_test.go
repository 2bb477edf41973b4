package validate

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/farmhq/farm"
)

// checkErr asserts that a failure is an EINVALID *farm.Error with a
// message, as every error of this package must be.
func checkErr(t *testing.T, err error) {
	t.Helper()
	var fe *farm.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *farm.Error", err, err)
	}
	if fe.Code != farm.EINVALID || fe.Message == "" {
		t.Fatalf("error %+v: want code %q and a message", fe, farm.EINVALID)
	}
}

// checkValid asserts that a is a valid, already normalised animal.
func checkValid(t *testing.T, a *farm.Animal) {
	t.Helper()
	b := *a
	if err := b.Validate(now); err != nil {
		t.Fatalf("result %+v does not re-validate: %v", *a, err)
	}
	if b != *a {
		t.Fatalf("result %+v is not normalised: Validate made it %+v", *a, b)
	}
}

var animalSeeds = []string{
	`{"id":"a","species":"cow","sex":"female"}`,
	`{"id":"a","species":"COW","sex":"Male","name":"Bessie","dob":"2020-02-29"}`,
	`{"id":"a","id":"b","species":"cow","sex":"male"}`,
	`{"id":"a","\u0069d":"b","species":"cow","sex":"male"}`,
	`{"id":"a","species":"chic\u212Aen","sex":"male"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud800"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\udc04\ud83d"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud83d\\udc04"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud83d\udc04"}`,
	`{"\ud800":1,"id":"a","species":"cow","sex":"male"}`,
	`{"id":"a","species":"cow","sex":"male","dob":"0000-01-03"}`,
	`{"id":"a","species":"cow","sex":"male","name":"<&>\u2028"}`,
	`{"id":"a","species":"cow","sex":"male","colour":null}`,
	`{"id":null,"species":1,"sex":[],"name":{},"dob":true}`,
	`{"id":"a","species":"cow","sex":"male","dob":"2019-19-39"}`,
	`{"id":"a","species":"cow","sex":"male"} {}`,
	`{"id":"a","species":"cow","sex":"male"}x`,
	`[]`, `"x"`, `1`, `null`, ``, `{`, `{"a":1,}`, `{1:2}`,
	"{\"name\":\"\xff\"}",
	"\ufeff{}",
}

func FuzzDecodeAnimal(f *testing.F) {
	for _, s := range animalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := string(body)
		a, err := DecodeAnimal(body, now)
		if string(body) != orig {
			t.Fatal("DecodeAnimal changed its input")
		}
		if err != nil {
			if a != nil {
				t.Fatalf("an animal %+v with the error %v", a, err)
			}
			checkErr(t, err)
			return
		}
		checkValid(t, a)

		// No parser differential: encoding/json reads the same record.
		var std farm.Animal
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		if err := std.Validate(now); err != nil || std != *a {
			t.Fatalf("encoding/json reads %q as %+v (%v), DecodeAnimal as %+v", body, std, err, *a)
		}

		// Encoding and decoding again gives the same animal.
		enc, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeAnimal(enc, now)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", enc, err)
		}
		if *b != *a {
			t.Fatalf("round trip: %+v became %+v via %s", *a, *b, enc)
		}

		// The same body is a valid replacement of its own record.
		r, err := Replacement(a.ID, body, now)
		if err != nil || *r != *a {
			t.Fatalf("Replacement(%q, %q) = %+v, %v; want %+v", a.ID, body, r, err, *a)
		}
		if _, err := Replacement(a.ID+"x", body, now); err == nil {
			t.Fatalf("Replacement(%q, %q) accepted another id", a.ID+"x", body)
		}
	})
}

// FuzzReplacement checks PUT bodies against an id from the URL.
func FuzzReplacement(f *testing.F) {
	f.Add("a", []byte(`{"species":"cow","sex":"female"}`))
	f.Add("a", []byte(`{"id":"a","species":"cow","sex":"female"}`))
	f.Add("a", []byte(`{"id":"b","species":"cow","sex":"female"}`))
	f.Add("a/b", []byte(`{"species":"cow","sex":"female"}`))
	f.Add("", []byte(`{"species":"cow","sex":"female"}`))
	f.Add("a", []byte(`{"id":null,"species":"cow","sex":"female"}`))
	f.Add("a", []byte(`{"species":"cow","sex":"female","name":"\udc00"}`))
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		a, err := Replacement(id, body, now)
		if err != nil {
			checkErr(t, err)
			return
		}
		if a.ID != id {
			t.Fatalf("Replacement(%q, %q) gave id %q", id, body, a.ID)
		}
		checkValid(t, a)
	})
}

// mergeRef is RFC 7396's MergePatch on generic JSON values, the reference
// Merge is held to.
func mergeRef(target map[string]any, patch map[string]any) map[string]any {
	out := maps.Clone(target)
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func FuzzMerge(f *testing.F) {
	add := func(id, species, sex, name, dob, patch string) {
		f.Add(id, species, sex, name, dob, []byte(patch))
	}
	add("a", "cow", "female", "Bessie", "2020-01-01", `{}`)
	add("a", "cow", "female", "Bessie", "2020-01-01", `{"name":null}`)
	add("a", "cow", "female", "", "", `{"name":null,"dob":null}`)
	add("a", "cow", "female", "", "", `{"species":"CHICKEN"}`)
	add("a", "cow", "female", "", "", `{"species":null}`)
	add("a", "cow", "female", "", "", `{"id":"a"}`)
	add("a", "cow", "female", "", "", `{"id":"b"}`)
	add("a", "cow", "female", "", "", `{"id":null}`)
	add("a", "cow", "female", "", "", `{"colour":null}`)
	add("a", "cow", "female", "", "", `{"name":"x","name":null}`)
	add("a", "COW", "FEMALE", "", "", `{"dob":"2024-06-15"}`)
	add("", "", "", "", "", `{}`)
	add("a", "cow", "female", "", "", `null`)
	add("a", "cow", "female", "", "", `{"name":"\ud800"}`)
	add("a", "cow", "female", "", "", `{"name":"\ud83d\udc04"}`)
	add("a", "cow", "female", "", "0000-01-03", `{"name":"x"}`)
	f.Fuzz(func(t *testing.T, id, species, sex, name, dob string, patch []byte) {
		cur := &farm.Animal{ID: id, Species: species, Sex: sex, Name: name, DOB: dob, Rev: "r"}
		before := *cur
		got, err := Merge(cur, patch, now)
		if *cur != before {
			t.Fatalf("Merge changed its input %+v to %+v", before, *cur)
		}
		if err != nil {
			if got != nil {
				t.Fatalf("an animal %+v with the error %v", got, err)
			}
			checkErr(t, err)
			return
		}
		checkValid(t, got)
		if got.ID != cur.ID {
			t.Fatalf("Merge changed the id from %q to %q", cur.ID, got.ID)
		}

		// The result is RFC 7396 applied to the current record, up to
		// the case of species and sex.
		var pm map[string]any
		if err := json.Unmarshal(patch, &pm); err != nil {
			t.Fatalf("accepted patch %q, which encoding/json refuses: %v", patch, err)
		}
		var target map[string]any
		enc, _ := json.Marshal(cur)
		if err := json.Unmarshal(enc, &target); err != nil {
			t.Fatal(err)
		}
		want := mergeRef(target, pm)
		var have map[string]any
		enc, _ = json.Marshal(got)
		if err := json.Unmarshal(enc, &have); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"species", "sex"} {
			if s, ok := want[k].(string); ok {
				want[k] = strings.ToLower(s)
			}
		}
		if !maps.Equal(normalise(want), normalise(have)) {
			t.Fatalf("Merge(%+v, %s) = %v, RFC 7396 says %v", before, patch, have, want)
		}
	})
}

// normalise turns a record's generic form into comparable strings.
func normalise(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		b, _ := json.Marshal(v)
		out[k] = string(b)
	}
	return out
}
