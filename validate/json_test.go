package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/farmhq/farm"
)

func TestDecodeAnimalOK(t *testing.T) {
	cases := []struct {
		body string
		want farm.Animal
	}{
		{`{"id":"a","species":"cow","sex":"female"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female"}},
		{`{"id":"a","species":"COW","sex":"Male","name":"Bessie","dob":"2020-02-29"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "male", Name: "Bessie", DOB: "2020-02-29"}},
		// Member order does not matter; whitespace around everything is fine.
		{" \n\t{ \"sex\" : \"male\" , \"id\" : \"b\" , \"species\" : \"chicken\" } \r\n",
			farm.Animal{ID: "b", Species: "chicken", Sex: "male"}},
		// Escapes in names and values.
		{`{"\u0069d":"\u0061","species":"c\u006Fw","sex":"female","name":"B\u00e9a \ud83d\udc04"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "Béa 🐄"}},
		{`{"id":"a","species":"cow","sex":"female","name":"\u2028"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "\u2028"}},
		{`{"id":"` + strings.Repeat("i", 128) + `","species":"cow","sex":"female","name":"` + strings.Repeat("é", 200) + `"}`,
			farm.Animal{ID: strings.Repeat("i", 128), Species: "cow", Sex: "female", Name: strings.Repeat("é", 200)}},
		{`{"id":"a","species":"cow","sex":"female","dob":"2024-06-15"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", DOB: "2024-06-15"}},
	}
	for _, c := range cases {
		a, err := DecodeAnimal([]byte(c.body), now)
		if err != nil {
			t.Errorf("DecodeAnimal(%s) = %v", c.body, err)
			continue
		}
		if *a != c.want {
			t.Errorf("DecodeAnimal(%s) = %+v, want %+v", c.body, *a, c.want)
		}
	}
}

func TestDecodeAnimalMalformed(t *testing.T) {
	cases := []struct {
		name string
		body string
		want string // in the message
	}{
		{"nil", "", "empty"},
		{"spaces", " \n\t ", "empty"},
		{"array", `[]`, "not an array"},
		{"array of object", `[{"id":"a","species":"cow","sex":"male"}]`, "not an array"},
		{"string", `"x"`, "not a string"},
		{"number", `1`, "not a number"},
		{"bool", `true`, "not a boolean"},
		{"null", `null`, "not null"},
		{"huge number", `1e999`, "not a number"},
		{"unterminated", `{"id":"a"`, "end of the body"},
		{"open brace", `{`, "end of the body"},
		{"unterminated string", `{"id":"a`, "malformed"},
		{"trailing comma", `{"id":"a",}`, "malformed"},
		{"missing colon", `{"id" "a"}`, "malformed"},
		{"missing comma", `{"id":"a" "sex":"male"}`, "malformed"},
		{"number key", `{1:"a"}`, "malformed"},
		{"bare key", `{id:"a"}`, "malformed"},
		{"single quotes", `{'id':'a'}`, "malformed"},
		{"wrong closer", `{"id":"a"]`, "malformed"},
		{"two objects", `{"id":"a","species":"cow","sex":"male"}{}`, "after the object"},
		{"object and space and object", `{} {}`, "after the object"},
		{"trailing garbage", `{"id":"a","species":"cow","sex":"male"}x`, "malformed"},
		{"trailing number", `{"id":"a","species":"cow","sex":"male"} 1`, "after the object"},
		{"trailing null", `{"id":"a","species":"cow","sex":"male"}null`, "after the object"},
		{"invalid utf-8 in value", "{\"id\":\"a\",\"species\":\"cow\",\"sex\":\"male\",\"name\":\"\xff\"}", "UTF-8"},
		{"invalid utf-8 in name", "{\"\xc3\":\"a\"}", "UTF-8"},
		{"invalid utf-8 after", "{}\xff", "UTF-8"},
		{"overlong utf-8", "{\"name\":\"\xc0\xaf\"}", "UTF-8"},
		{"surrogate in utf-8", "{\"name\":\"\xed\xa0\x80\"}", "UTF-8"},
		{"BOM", "\ufeff{}", "malformed"},
		{"comment", `{"id":"a"} // x`, "malformed"},
		{"control char in string", "{\"id\":\"a\x01\"}", "malformed"},
		{"bad escape", `{"id":"\x41"}`, "malformed"},
		{"NaN", `{"id":NaN}`, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := DecodeAnimal([]byte(c.body), now)
			if a != nil {
				t.Errorf("got an animal %+v with the error", a)
			}
			fe := farmError(t, err)
			if !strings.Contains(fe.Message, c.want) {
				t.Errorf("message %q does not contain %q", fe.Message, c.want)
			}
		})
	}
}

func TestDecodeAnimalDuplicates(t *testing.T) {
	cases := []struct {
		body  string
		field string
	}{
		{`{"id":"a","id":"b","species":"cow","sex":"male"}`, "id"},
		{`{"id":"a","id":"a","species":"cow","sex":"male"}`, "id"},
		{`{"id":"a","\u0069d":"b","species":"cow","sex":"male"}`, "id"},
		{`{"\u0069\u0064":"a","id":"b","species":"cow","sex":"male"}`, "id"},
		{`{"id":"a","species":"cow","sex":"male","species":"chicken"}`, "species"},
		{`{"id":"a","species":"cow","sex":"male","sex":null}`, "sex"},
		{`{"id":"a","species":"cow","sex":"male","colour":1,"colour":2}`, "colour"},
		{`{"id":"a","species":"cow","sex":"male","name":"x","n\u0061me":"y"}`, "name"},
		{`{"id":"a","species":"cow","sex":"male","\/":"x","/":"y"}`, "/"},
	}
	for _, c := range cases {
		a, err := DecodeAnimal([]byte(c.body), now)
		if a != nil {
			t.Errorf("DecodeAnimal(%s) = %+v, want an error", c.body, a)
		}
		fe := wantFields(t, err, c.field)
		if !strings.Contains(fe.Message, "more than once") {
			t.Errorf("DecodeAnimal(%s): message %q", c.body, fe.Message)
		}
	}
	// Member names are case-sensitive: "ID" is another (unknown) member.
	_, err := DecodeAnimal([]byte(`{"id":"a","ID":"b","species":"cow","sex":"male"}`), now)
	fe := wantFields(t, err, "ID")
	if strings.Contains(fe.Message, "more than once") {
		t.Errorf("message %q: ID is not a repeat of id", fe.Message)
	}
}

func TestDecodeAnimalFieldErrors(t *testing.T) {
	const base = `"id":"a","species":"cow","sex":"male"`
	cases := []struct {
		name   string
		body   string
		fields []string
		want   []string // each in the message
	}{
		{"unknown", `{` + base + `,"colour":"brown"}`, []string{"colour"}, []string{"colour: is not a field"}},
		{"unknown null", `{` + base + `,"colour":null}`, []string{"colour"}, []string{"colour: is not a field"}},
		{"unknown empty name", `{` + base + `,"":1}`, []string{""}, []string{"is not a field"}},
		{"Rev is not a field", `{` + base + `,"Rev":"1"}`, []string{"Rev"}, []string{"Rev: is not a field"}},
		{"_href", `{` + base + `,"_href":"/x"}`, []string{"_href"}, nil},
		{"two unknown", `{` + base + `,"b":1,"a":2}`, []string{"b", "a"}, nil},
		{"missing all", `{}`, []string{"id", "species", "sex"}, []string{"id: is required", "species: is required", "sex: is required"}},
		{"missing id", `{"species":"cow","sex":"male"}`, []string{"id"}, []string{"id: is required"}},
		{"missing species", `{"id":"a","sex":"male"}`, []string{"species"}, []string{"species: is required"}},
		{"missing sex", `{"id":"a","species":"cow"}`, []string{"sex"}, []string{"sex: is required"}},
		{"empty id", `{"id":"","species":"cow","sex":"male"}`, []string{"id"}, []string{"id: must not be empty"}},
		{"empty species", `{"id":"a","species":"","sex":"male"}`, []string{"species"}, []string{"species: must not be empty"}},
		{"empty name", `{` + base + `,"name":""}`, []string{"name"}, []string{"name: must not be empty"}},
		{"empty dob", `{` + base + `,"dob":""}`, []string{"dob"}, []string{"dob: must not be empty"}},
		{"bad id", `{"id":"a/b","species":"cow","sex":"male"}`, []string{"id"}, []string{"id: may hold only"}},
		{"dot id", `{"id":".","species":"cow","sex":"male"}`, []string{"id"}, nil},
		{"long id", `{"id":"` + strings.Repeat("i", 129) + `","species":"cow","sex":"male"}`, []string{"id"}, []string{"id: must be at most 128"}},
		{"kelvin", `{"id":"a","species":"chic\u212Aen","sex":"male"}`, []string{"species"}, []string{"species: must be one of"}},
		{"kelvin raw", "{\"id\":\"a\",\"species\":\"chic\u212Aen\",\"sex\":\"male\"}", []string{"species"}, nil},
		{"alien", `{"id":"a","species":"alien","sex":"male"}`, []string{"species"}, []string{`"alien"`}},
		{"bad sex", `{"id":"a","species":"cow","sex":"bull"}`, []string{"sex"}, nil},
		{"long name", `{` + base + `,"name":"` + strings.Repeat("n", 201) + `"}`, []string{"name"}, []string{"name: must be at most 200"}},
		{"control name", `{` + base + `,"name":"a\u0000b"}`, []string{"name"}, []string{"U+0000"}},
		{"newline name", `{` + base + `,"name":"a\nb"}`, []string{"name"}, []string{"U+000A"}},
		{"nel name", `{` + base + `,"name":"a\u0085b"}`, []string{"name"}, []string{"U+0085"}},
		{"del name", `{` + base + `,"name":"a\u007fb"}`, []string{"name"}, []string{"U+007F"}},
		{"bad dob", `{` + base + `,"dob":"2019-19-39"}`, []string{"dob"}, []string{"dob: 2019-19-39 is not a calendar date"}},
		{"future dob", `{` + base + `,"dob":"2024-06-16"}`, []string{"dob"}, []string{"future"}},
		{"all at once", `{"id":"..","species":"pig","sex":1,"name":null,"dob":"2021-02-29","x":true}`,
			[]string{"id", "species", "sex", "name", "dob", "x"}, nil},
		{"unknown and missing", `{"x":1}`, []string{"id", "species", "sex", "x"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := DecodeAnimal([]byte(c.body), now)
			if a != nil {
				t.Errorf("got an animal %+v with the error", a)
			}
			fe := wantFields(t, err, c.fields...)
			if !strings.HasPrefix(fe.Message, "invalid animal: ") {
				t.Errorf("message %q", fe.Message)
			}
			for _, w := range c.want {
				if !strings.Contains(fe.Message, w) {
					t.Errorf("message %q does not contain %q", fe.Message, w)
				}
			}
		})
	}
}

// null and every wrong JSON type are refused for each field, with the
// field named.
func TestDecodeAnimalWrongTypes(t *testing.T) {
	valid := map[string]string{"id": `"a"`, "species": `"cow"`, "sex": `"male"`, "name": `"N"`, "dob": `"2020-01-01"`}
	wrong := []struct {
		json string
		want string
	}{
		{`null`, "must not be null"},
		{`1`, "must be a string, not a number"},
		{`-1.5e3`, "must be a string, not a number"},
		{`1e999`, "must be a string, not a number"},
		{`true`, "must be a string, not a boolean"},
		{`false`, "must be a string, not a boolean"},
		{`[]`, "must be a string, not an array"},
		{`["a"]`, "must be a string, not an array"},
		{`{}`, "must be a string, not an object"},
		{`{"a":"b"}`, "must be a string, not an object"},
	}
	for _, field := range farm.Fields {
		for _, w := range wrong {
			var parts []string
			for _, f := range farm.Fields {
				v := valid[f]
				if f == field {
					v = w.json
				}
				parts = append(parts, `"`+f+`":`+v)
			}
			body := "{" + strings.Join(parts, ",") + "}"
			a, err := DecodeAnimal([]byte(body), now)
			if a != nil {
				t.Errorf("DecodeAnimal(%s) = %+v, want an error", body, a)
				continue
			}
			fe := wantFields(t, err, field)
			if !strings.HasPrefix(fe.Fields[0].Message, w.want) {
				t.Errorf("DecodeAnimal(%s): field message %q, want %q", body, fe.Fields[0].Message, w.want)
			}
		}
	}
}

// Nested objects are values like any other: their members are not looked
// at, but they are not a string either.
func TestDecodeAnimalNested(t *testing.T) {
	body := `{"id":"a","species":"cow","sex":"male","name":{"id":"x","id":"y"}}`
	_, err := DecodeAnimal([]byte(body), now)
	wantFields(t, err, "name")
	deep := `{"id":"a","species":"cow","sex":"male","name":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
	_, err = DecodeAnimal([]byte(deep), now)
	farmError(t, err)
}

func TestReplacement(t *testing.T) {
	cases := []struct {
		name   string
		id     string
		body   string
		want   farm.Animal
		fields []string // when an error is expected
	}{
		{"id left out", "a", `{"species":"cow","sex":"female"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female"}, nil},
		{"id equal", "a", `{"id":"a","species":"COW","sex":"female","name":"N"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "N"}, nil},
		{"id escaped", "a", `{"\u0069d":"\u0061","species":"cow","sex":"female"}`,
			farm.Animal{ID: "a", Species: "cow", Sex: "female"}, nil},
		{"id different", "a", `{"id":"b","species":"cow","sex":"female"}`, farm.Animal{}, []string{"id"}},
		{"id differs in case", "a", `{"id":"A","species":"cow","sex":"female"}`, farm.Animal{}, []string{"id"}},
		{"id null", "a", `{"id":null,"species":"cow","sex":"female"}`, farm.Animal{}, []string{"id"}},
		{"id number", "a", `{"id":1,"species":"cow","sex":"female"}`, farm.Animal{}, []string{"id"}},
		{"id empty", "a", `{"id":"","species":"cow","sex":"female"}`, farm.Animal{}, []string{"id"}},
		{"id repeated", "a", `{"id":"a","id":"a","species":"cow","sex":"female"}`, farm.Animal{}, []string{"id"}},
		{"url id invalid", "a/b", `{"species":"cow","sex":"female"}`, farm.Animal{}, []string{"id"}},
		{"url id empty", "", `{"species":"cow","sex":"female"}`, farm.Animal{}, []string{"id"}},
		{"missing species", "a", `{"sex":"female"}`, farm.Animal{}, []string{"species"}},
		{"unknown", "a", `{"species":"cow","sex":"female","x":1}`, farm.Animal{}, []string{"x"}},
		{"null name", "a", `{"species":"cow","sex":"female","name":null}`, farm.Animal{}, []string{"name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := Replacement(c.id, []byte(c.body), now)
			if c.fields != nil {
				if a != nil {
					t.Errorf("got an animal %+v with the error", a)
				}
				wantFields(t, err, c.fields...)
				return
			}
			if err != nil {
				t.Fatalf("Replacement(%q, %s) = %v", c.id, c.body, err)
			}
			if *a != c.want {
				t.Errorf("Replacement(%q, %s) = %+v, want %+v", c.id, c.body, *a, c.want)
			}
		})
	}
	// The mismatch message names both ids.
	_, err := Replacement("a", []byte(`{"id":"b","species":"cow","sex":"female"}`), now)
	fe := wantFields(t, err, "id")
	if !strings.Contains(fe.Message, `"a"`) || !strings.Contains(fe.Message, `"b"`) {
		t.Errorf("message %q does not name both ids", fe.Message)
	}
	// Malformed bodies are refused as for POST.
	for _, body := range []string{"", "[]", `"x"`, "null", "{} {}", "{\"name\":\"\xff\"}"} {
		a, err := Replacement("a", []byte(body), now)
		if a != nil {
			t.Errorf("Replacement(%q) = %+v, want an error", body, a)
		}
		farmError(t, err)
	}
}

func TestJSONKind(t *testing.T) {
	cases := []struct {
		raw  string
		want string
	}{
		{``, "nothing"},
		{`{}`, "an object"},
		{`[]`, "an array"},
		{`"x"`, "a string"},
		{`true`, "a boolean"},
		{`false`, "a boolean"},
		{`null`, "null"},
		{`-1`, "a number"},
		{`0.5`, "a number"},
	}
	for _, c := range cases {
		if got := jsonKind([]byte(c.raw)); got != c.want {
			t.Errorf("jsonKind(%s) = %q, want %q", c.raw, got, c.want)
		}
	}
}

// A body with a hundred thousand unknown members gets an error that names
// the first farm.MaxFieldErrors and counts the rest: its size does not
// follow the input's.
func TestDecodeAnimalBoundedErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"id":"a","species":"cow","sex":"male"`)
	const n = 100000
	for i := range n {
		fmt.Fprintf(&b, `,"m%d":1`, i)
	}
	b.WriteString("}")
	_, err := DecodeAnimal([]byte(b.String()), now)
	fe := farmError(t, err)
	if len(fe.Fields) != farm.MaxFieldErrors {
		t.Errorf("%d field errors, want %d", len(fe.Fields), farm.MaxFieldErrors)
	}
	if want := fmt.Sprintf("and %d more", n-farm.MaxFieldErrors); !strings.HasSuffix(fe.Message, want) {
		t.Errorf("message ends %q, want %q", fe.Message[max(0, len(fe.Message)-40):], want)
	}
	if len(fe.Message) > 4096 {
		t.Errorf("message of %d bytes", len(fe.Message))
	}
	// Field errors come before the unknown members, whatever their order.
	_, err = DecodeAnimal([]byte(`{"x1":1,"x2":2,"id":"a","species":"pig","sex":"male"}`), now)
	wantFields(t, err, "species", "x1", "x2")
}

func TestRankOfMatchesFields(t *testing.T) {
	for i, f := range farm.Fields {
		if r := rankOf([]byte(`"` + f + `"`)); r != i {
			t.Errorf("rankOf(%q) = %d, want %d", f, r, i)
		}
	}
	if r := rankOf([]byte(`"\u0069d"`)); r != 0 {
		t.Errorf("escaped id: %d", r)
	}
	if r := rankOf([]byte(`"ID"`)); r != len(farm.Fields) {
		t.Errorf("ID: %d", r)
	}
}
