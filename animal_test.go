package farm_test

import (
	"strings"
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/internal/farmtest"
)

// now is the fixed clock of these tests: 2024-06-15, noon UTC.
var now = time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)

func wantFields(t *testing.T, err error, fields ...string) *farm.Error {
	t.Helper()
	return farmtest.Fields(t, err, farm.EINVALID, fields...)
}

func TestID(t *testing.T) {
	ok := []string{
		"a",
		strings.Repeat("x", farm.MaxIDLen),
		"a.b",
		"...",
		".a",
		"a.",
		"~",
		"-",
		"_",
		"0",
		"Z",
		"ABCxyz019-_.~",
		"6f1c2b9e-6c1d-4b5e-9f0a-1d2e3f4a5b6c",
	}
	for _, id := range ok {
		if err := farm.ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		}
	}
	// Every unreserved character on its own.
	const unreservedChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
	for _, c := range unreservedChars {
		id := "x" + string(c) + "x"
		if err := farm.ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		}
	}
	bad := []struct {
		id   string
		want string // in the message
	}{
		{"", "empty"},
		{strings.Repeat("x", farm.MaxIDLen+1), "at most 128"},
		{".", `"."`},
		{"..", `".."`},
		{"a/b", "'/'"},
		{"/", "'/'"},
		{"a b", "' '"},
		{"a%20b", "'%'"},
		{"%2e", "'%'"},
		{"é", "'é'"},
		{"caf\u00e9", "'é'"},
		{"\u212a", "'\u212a'"},
		{"a\x00", `'\x00'`},
		{"a\n", `'\n'`},
		{"a?b", "'?'"},
		{"a#b", "'#'"},
		{"a+b", "'+'"},
		{"a:b", "':'"},
		{"a@b", "'@'"},
		{"a\\b", `'\\'`},
		{"\xff", "'\uFFFD'"},
	}
	for _, c := range bad {
		err := farm.ValidateID(c.id)
		if err == nil {
			t.Errorf("ValidateID(%q) = nil, want an error", c.id)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValidateID(%q) = %q, want it to mention %s", c.id, err, c.want)
		}
	}
	// Every ASCII character that is not unreserved.
	for c := 0; c < 128; c++ {
		if strings.ContainsRune(unreservedChars, rune(c)) {
			continue
		}
		if err := farm.ValidateID("a" + string(rune(c))); err == nil {
			t.Errorf("ValidateID(%q) = nil, want an error", "a"+string(rune(c)))
		}
	}
}

func TestSpeciesAndSex(t *testing.T) {
	cases := []struct {
		fn      func(string) (string, error)
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{farm.ParseSpecies, "species", "cow", "cow", false},
		{farm.ParseSpecies, "species", "COW", "cow", false},
		{farm.ParseSpecies, "species", "Cow", "cow", false},
		{farm.ParseSpecies, "species", "chicken", "chicken", false},
		{farm.ParseSpecies, "species", "ChIcKeN", "chicken", false},
		{farm.ParseSpecies, "species", "chic\u212Aen", "", true}, // Kelvin sign
		{farm.ParseSpecies, "species", "CHIC\u212AEN", "", true},
		{farm.ParseSpecies, "species", "alien", "", true},
		{farm.ParseSpecies, "species", "", "", true},
		{farm.ParseSpecies, "species", " cow", "", true},
		{farm.ParseSpecies, "species", "cow ", "", true},
		{farm.ParseSpecies, "species", "cows", "", true},
		{farm.ParseSpecies, "species", "female", "", true},
		{farm.ParseSpecies, "species", "co\u0077", "cow", false},
		{farm.ParseSpecies, "species", "c\u00f6w", "", true},
		{farm.ParseSex, "sex", "female", "female", false},
		{farm.ParseSex, "sex", "FEMALE", "female", false},
		{farm.ParseSex, "sex", "Male", "male", false},
		{farm.ParseSex, "sex", "male", "male", false},
		{farm.ParseSex, "sex", "cow", "", true},
		{farm.ParseSex, "sex", "f", "", true},
		{farm.ParseSex, "sex", "", "", true},
		{farm.ParseSex, "sex", "ma\u212Ale", "", true},
		{farm.ParseSex, "sex", "fem\u0430le", "", true}, // Cyrillic a
	}
	for _, c := range cases {
		got, err := c.fn(c.in)
		if c.wantErr {
			if err == nil {
				t.Errorf("%s(%q) = %q, nil; want an error", c.name, c.in, got)
			} else if got != "" {
				t.Errorf("%s(%q) returned %q with its error", c.name, c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s(%q) = %q, %v; want %q, nil", c.name, c.in, got, err, c.want)
		}
	}
	// The message lists the allowed values.
	_, err := farm.ParseSpecies("alien")
	if err == nil || !strings.Contains(err.Error(), "chicken, cow") || !strings.Contains(err.Error(), `"alien"`) {
		t.Errorf("Species(alien) error = %v, want the allowed values and the value", err)
	}
	// A huge value is shortened in the message.
	_, err = farm.ParseSex(strings.Repeat("x", 10000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("Sex(10000 x) error = %q, want a short message", err)
	}
}

func TestName(t *testing.T) {
	ok := []string{
		"a",
		"Bessie",
		"Bessie the 2nd",
		strings.Repeat("x", farm.MaxNameLen),
		strings.Repeat("é", farm.MaxNameLen), // 400 bytes, 200 characters
		strings.Repeat("🐄", farm.MaxNameLen),
		"Ünïcödé",
		" leading and trailing spaces ",
		"tab-free",
		"\u2028", // a line separator is not a control character
	}
	for _, s := range ok {
		if err := farm.ValidateName(s); err != nil {
			t.Errorf("Name(%q) = %v, want nil", s, err)
		}
	}
	bad := []struct {
		in   string
		want string
	}{
		{"", "empty"},
		{strings.Repeat("x", farm.MaxNameLen+1), "at most 200"},
		{strings.Repeat("é", farm.MaxNameLen+1), "at most 200"},
		{strings.Repeat("🐄", farm.MaxNameLen+1), "not 201"},
		{"a\x00b", "U+0000"},
		{"a\nb", "U+000A"},
		{"a\tb", "U+0009"},
		{"a\rb", "U+000D"},
		{"a\x1fb", "U+001F"},
		{"a\x7fb", "U+007F"},
		{"a\u0085b", "U+0085"},
		{"a\u009fb", "U+009F"},
		{"\n", "U+000A"},
		{"a\xffb", "UTF-8"},
	}
	for _, c := range bad {
		err := farm.ValidateName(c.in)
		if err == nil {
			t.Errorf("Name(%q) = nil, want an error", c.in)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Name(%q) = %q, want it to mention %q", c.in, err, c.want)
		}
	}
}

func TestDOB(t *testing.T) {
	ok := []string{
		"2020-01-01",
		"2020-02-29", // leap year
		"2000-02-29", // leap year, divisible by 400
		"2024-06-15", // today
		"2024-06-14",
		"2023-12-31",
		"1970-01-01",
		"1900-01-01",
		"0001-01-01",
		"2024-01-31",
		"2024-04-30",
	}
	for _, s := range ok {
		if err := farm.ValidateDOB(s, now); err != nil {
			t.Errorf("DOB(%q) = %v, want nil", s, err)
		}
	}
	bad := []struct {
		in   string
		want string
	}{
		{"2019-19-39", "not a calendar date"},
		{"2019-13-01", "not a calendar date"},
		{"2019-00-10", "not a calendar date"},
		{"2019-01-00", "not a calendar date"},
		{"2019-01-32", "not a calendar date"},
		{"2019-04-31", "not a calendar date"},
		{"2021-02-29", "not a calendar date"},
		{"1900-02-29", "not a calendar date"}, // not a leap year
		{"2024-06-16", "future"},              // tomorrow in UTC
		{"2024-07-01", "future"},
		{"2025-01-01", "future"},
		{"9999-12-31", "future"},
		{"", "YYYY-MM-DD"},
		{"2020-1-01", "YYYY-MM-DD"},
		{"2020-01-1", "YYYY-MM-DD"},
		{"20200101", "YYYY-MM-DD"},
		{" 2020-01-01", "YYYY-MM-DD"},
		{"2020-01-01 ", "YYYY-MM-DD"},
		{"2020-01-01T00:00:00Z", "YYYY-MM-DD"},
		{"2020/01/01", "YYYY-MM-DD"},
		{"01-01-2020", "YYYY-MM-DD"},
		{"+020-01-01", "YYYY-MM-DD"},
		{"2020-+1-01", "YYYY-MM-DD"},
		{"2020-01-+1", "YYYY-MM-DD"},
		{"2020-0a-01", "YYYY-MM-DD"},
		{"２０２０-01-01", "YYYY-MM-DD"}, // full-width digits
		{"20-01-2020", "YYYY-MM-DD"},
		{"abcdefghij", "YYYY-MM-DD"},
	}
	for _, c := range bad {
		err := farm.ValidateDOB(c.in, now)
		if err == nil {
			t.Errorf("DOB(%q) = nil, want an error", c.in)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("DOB(%q) = %q, want it to mention %q", c.in, err, c.want)
		}
	}
}

// "Not in the future" is judged in UTC, whatever the zone of now.
func TestDOBJudgedInUTC(t *testing.T) {
	west := time.FixedZone("UTC-5", -5*3600)
	east := time.FixedZone("UTC+10", 10*3600)
	cases := []struct {
		now     time.Time
		dob     string
		wantErr bool
	}{
		// 23:30 on the 15th at UTC-5 is 04:30 on the 16th in UTC.
		{time.Date(2024, 6, 15, 23, 30, 0, 0, west), "2024-06-16", false},
		{time.Date(2024, 6, 15, 23, 30, 0, 0, west), "2024-06-17", true},
		// 08:00 on the 16th at UTC+10 is 22:00 on the 15th in UTC.
		{time.Date(2024, 6, 16, 8, 0, 0, 0, east), "2024-06-16", true},
		{time.Date(2024, 6, 16, 8, 0, 0, 0, east), "2024-06-15", false},
		// The last and first instants of a UTC day.
		{time.Date(2024, 6, 15, 23, 59, 59, 999999999, time.UTC), "2024-06-16", true},
		{time.Date(2024, 6, 16, 0, 0, 0, 0, time.UTC), "2024-06-16", false},
	}
	for _, c := range cases {
		err := farm.ValidateDOB(c.dob, c.now)
		if (err != nil) != c.wantErr {
			t.Errorf("DOB(%q, %v) = %v, want error: %v", c.dob, c.now, err, c.wantErr)
		}
	}
}

func TestAnimal(t *testing.T) {
	cases := []struct {
		name   string
		in     farm.Animal
		want   farm.Animal // when fields is nil
		fields []string
	}{
		{"minimal", farm.Animal{ID: "a", Species: "cow", Sex: "female"},
			farm.Animal{ID: "a", Species: "cow", Sex: "female"}, nil},
		{"full", farm.Animal{ID: "a", Species: "chicken", Sex: "male", Name: "Rex", DOB: "2020-02-29"},
			farm.Animal{ID: "a", Species: "chicken", Sex: "male", Name: "Rex", DOB: "2020-02-29"}, nil},
		{"normalised", farm.Animal{ID: "A", Species: "COW", Sex: "FeMaLe"},
			farm.Animal{ID: "A", Species: "cow", Sex: "female"}, nil},
		{"rev kept", farm.Animal{ID: "a", Species: "cow", Sex: "male", Rev: "3"},
			farm.Animal{ID: "a", Species: "cow", Sex: "male", Rev: "3"}, nil},
		{"empty", farm.Animal{}, farm.Animal{}, []string{"id", "species", "sex"}},
		{"bad id", farm.Animal{ID: "..", Species: "cow", Sex: "male"}, farm.Animal{}, []string{"id"}},
		{"kelvin", farm.Animal{ID: "a", Species: "chic\u212Aen", Sex: "male"}, farm.Animal{}, []string{"species"}},
		{"bad sex", farm.Animal{ID: "a", Species: "cow", Sex: "bull"}, farm.Animal{}, []string{"sex"}},
		{"bad name", farm.Animal{ID: "a", Species: "cow", Sex: "male", Name: "a\nb"}, farm.Animal{}, []string{"name"}},
		{"bad dob", farm.Animal{ID: "a", Species: "cow", Sex: "male", DOB: "2019-19-39"}, farm.Animal{}, []string{"dob"}},
		{"future dob", farm.Animal{ID: "a", Species: "cow", Sex: "male", DOB: "2024-06-16"}, farm.Animal{}, []string{"dob"}},
		{"all bad", farm.Animal{ID: "a b", Species: "pig", Sex: "x", Name: strings.Repeat("n", 201), DOB: "2021-02-29"},
			farm.Animal{}, []string{"id", "species", "sex", "name", "dob"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := c.in
			err := a.Validate(now)
			if c.fields != nil {
				fe := wantFields(t, err, c.fields...)
				if !strings.HasPrefix(fe.Message, "invalid animal: ") {
					t.Errorf("message %q", fe.Message)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate(%+v) = %v, want nil", c.in, err)
			}
			if a != c.want {
				t.Errorf("Validate(%+v) left %+v, want %+v", c.in, a, c.want)
			}
		})
	}
}

func TestAnimalRequiredMessages(t *testing.T) {
	err := (&farm.Animal{}).Validate(now)
	fe := wantFields(t, err, "id", "species", "sex")
	for _, f := range fe.Fields {
		if f.Message != "is required" {
			t.Errorf("field %s: message %q, want %q", f.Field, f.Message, "is required")
		}
	}
	want := "invalid animal: id: is required; species: is required; sex: is required"
	if fe.Message != want {
		t.Errorf("message = %q, want %q", fe.Message, want)
	}
}

func TestQuoteShortens(t *testing.T) {
	if got := farm.Quote("abc"); got != `"abc"` {
		t.Errorf("farm.Quote(abc) = %s", got)
	}
	long := strings.Repeat("é", 100)
	got := farm.Quote(long)
	if want := `"` + strings.Repeat("é", 40) + `…"`; got != want {
		t.Errorf("farm.Quote(100 é) = %s, want %s", got, want)
	}
}
