package farm

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Animal is one record of the animal collection. Optional fields are empty
// when absent; the JSON form omits them.
type Animal struct {
	ID      string `json:"id"`
	Species string `json:"species"`
	Sex     string `json:"sex"`
	Name    string `json:"name,omitempty"`
	DOB     string `json:"dob,omitempty"`

	// Rev identifies this version of the record. A store sets it on every
	// write; the HTTP layer shows it as the ETag.
	Rev string `json:"-"`
}

// The values that species and sex may take, lower-case as stored.
const (
	SpeciesChicken = "chicken"
	SpeciesCow     = "cow"
	SexFemale      = "female"
	SexMale        = "male"
)

// Limits of the field rules.
const (
	MaxIDLen   = 128
	MaxNameLen = 200
)

// DateLayout is the form of a date of birth.
const DateLayout = "2006-01-02"

// Fields lists the fields of an animal, in the order errors and JSON show
// them.
var Fields = [...]string{"id", "species", "sex", "name", "dob"}

// FieldRank is the place of a field in Fields; names that are not fields
// come last.
func FieldRank(name string) int {
	for i, f := range Fields {
		if f == name {
			return i
		}
	}
	return len(Fields)
}

// Validate checks every field of a against its rule and normalises species
// and sex to their stored (lower-case) form. It returns an EINVALID *Error
// naming each field at fault, or nil.
func (a *Animal) Validate(now time.Time) error {
	var errs []FieldError
	add := func(field string, err error) {
		if err != nil {
			errs = append(errs, FieldError{Field: field, Message: err.Error()})
		}
	}
	if a.ID == "" {
		add("id", fmt.Errorf("is required"))
	} else {
		add("id", ValidateID(a.ID))
	}
	if a.Species == "" {
		add("species", fmt.Errorf("is required"))
	} else if v, err := ParseSpecies(a.Species); err != nil {
		add("species", err)
	} else {
		a.Species = v
	}
	if a.Sex == "" {
		add("sex", fmt.Errorf("is required"))
	} else if v, err := ParseSex(a.Sex); err != nil {
		add("sex", err)
	} else {
		a.Sex = v
	}
	if a.Name != "" {
		add("name", ValidateName(a.Name))
	}
	if a.DOB != "" {
		add("dob", ValidateDOB(a.DOB, now))
	}
	return Invalid(EINVALID, "invalid animal", errs, 0)
}

// Equal reports whether a and b hold the same fields (their revisions
// aside): a write of b over a would change nothing.
func (a *Animal) Equal(b *Animal) bool {
	return a.ID == b.ID && a.Species == b.Species && a.Sex == b.Sex && a.Name == b.Name && a.DOB == b.DOB
}

// ValidateID checks an animal id: 1 to 128 URL-unreserved characters, not
// "." or "..", since it becomes a path segment.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("must be at most %d characters, not %d", MaxIDLen, len(id))
	}
	if id == "." || id == ".." {
		return fmt.Errorf("must not be %q", id)
	}
	for i := 0; i < len(id); i++ {
		if !unreserved(id[i]) {
			r, _ := utf8.DecodeRuneInString(id[i:])
			return fmt.Errorf("may hold only letters, digits, '-', '_', '.' and '~', not %q", r)
		}
	}
	return nil
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// ParseSpecies returns the stored (lower-case) form of a species, matched
// case-insensitively in ASCII only: Unicode folding would let the Kelvin
// sign stand for a 'k'.
func ParseSpecies(s string) (string, error) {
	return oneOf(s, SpeciesChicken, SpeciesCow)
}

// ParseSex returns the stored (lower-case) form of a sex, as ParseSpecies
// does.
func ParseSex(s string) (string, error) {
	return oneOf(s, SexFemale, SexMale)
}

func oneOf(s string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if s == a || asciiEqualFold(s, a) {
			return a, nil
		}
	}
	return "", fmt.Errorf("must be one of %s, not %s", strings.Join(allowed, ", "), Quote(s))
}

// asciiEqualFold compares s with the lower-case ASCII word lower, ignoring
// the case of ASCII letters only.
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// ValidateName checks an animal's name: 1 to 200 characters, none of them a
// control character.
func ValidateName(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("must be valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return fmt.Errorf("must not be empty (leave the field out instead)")
	}
	if n > MaxNameLen {
		return fmt.Errorf("must be at most %d characters, not %d", MaxNameLen, n)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("must not hold control characters, found %U", r)
		}
	}
	return nil
}

// ValidateDOB checks a date of birth: YYYY-MM-DD, a real calendar date, not
// after today in UTC.
func ValidateDOB(s string, now time.Time) error {
	if len(s) != len(DateLayout) || s[4] != '-' || s[7] != '-' || !digits(s[:4]) || !digits(s[5:7]) || !digits(s[8:]) {
		return fmt.Errorf("must be a date as YYYY-MM-DD, not %s", Quote(s))
	}
	// time.Parse takes year 0000; the civil calendar has no year 0.
	if _, err := time.Parse(DateLayout, s); err != nil || s[:4] == "0000" {
		return fmt.Errorf("%s is not a calendar date", s)
	}
	today := now.UTC().Format(DateLayout)
	if s > today { // same-width ISO dates compare as strings
		return fmt.Errorf("%s is in the future (today is %s UTC)", s, today)
	}
	return nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Quote shows a client's value in a message, shortened so that a huge
// value cannot blow up a log line or a response.
func Quote(s string) string {
	const max = 40
	if len(s) > max && utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
