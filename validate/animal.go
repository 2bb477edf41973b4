// Package validate is where a record is checked: the rules of each field of
// an animal, the strict reading of a JSON body (no duplicate members, no
// unknown fields, no nulls, no wrong types), JSON Merge Patch, and the
// arguments of a listing. Everything that comes from a client passes here
// before it reaches a store.
package validate

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/farmhq/farm"
)

// Limits of the field rules.
const (
	MaxIDLen   = 128
	MaxNameLen = 200
)

// fieldOrder is the order in which fields appear in errors and in JSON.
var fieldOrder = [...]string{"id", "species", "sex", "name", "dob"}

func fieldRank(name string) int {
	for i, f := range fieldOrder {
		if f == name {
			return i
		}
	}
	return len(fieldOrder)
}

// ID checks an animal id: 1 to 128 URL-unreserved characters, not "." or
// "..", since it becomes a path segment.
func ID(id string) error {
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

// Species returns the stored (lower-case) form of a species, matched
// case-insensitively in ASCII only: Unicode folding would let the Kelvin
// sign stand for a 'k'.
func Species(s string) (string, error) {
	return oneOf(s, farm.SpeciesChicken, farm.SpeciesCow)
}

// Sex returns the stored (lower-case) form of a sex, as Species does.
func Sex(s string) (string, error) {
	return oneOf(s, farm.SexFemale, farm.SexMale)
}

func oneOf(s string, allowed ...string) (string, error) {
	lower := asciiLower(s)
	for _, a := range allowed {
		if lower == a {
			return a, nil
		}
	}
	return "", fmt.Errorf("must be one of %s, not %s", strings.Join(allowed, ", "), quote(s))
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Name checks an animal's name: 1 to 200 characters, none of them a
// control character.
func Name(s string) error {
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

// DOB checks a date of birth: YYYY-MM-DD, a real calendar date, not after
// today in UTC.
func DOB(s string, now time.Time) error {
	const layout = "2006-01-02"
	if len(s) != len(layout) || s[4] != '-' || s[7] != '-' || !digits(s[:4]) || !digits(s[5:7]) || !digits(s[8:]) {
		return fmt.Errorf("must be a date as YYYY-MM-DD, not %s", quote(s))
	}
	d, err := time.Parse(layout, s)
	if err != nil {
		return fmt.Errorf("%s is not a calendar date", s)
	}
	today := now.UTC().Format(layout)
	if s > today { // same-width ISO dates compare as strings
		return fmt.Errorf("%s is in the future (today is %s UTC)", d.Format(layout), today)
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

// Animal checks every field of a and normalises species and sex to their
// stored form. It returns an EINVALID *farm.Error listing each field at
// fault, or nil.
func Animal(a *farm.Animal, now time.Time) error {
	var errs []farm.FieldError
	add := func(field string, err error) {
		if err != nil {
			errs = append(errs, farm.FieldError{Field: field, Message: err.Error()})
		}
	}
	if a.ID == "" {
		add("id", fmt.Errorf("is required"))
	} else {
		add("id", ID(a.ID))
	}
	if a.Species == "" {
		add("species", fmt.Errorf("is required"))
	} else if v, err := Species(a.Species); err != nil {
		add("species", err)
	} else {
		a.Species = v
	}
	if a.Sex == "" {
		add("sex", fmt.Errorf("is required"))
	} else if v, err := Sex(a.Sex); err != nil {
		add("sex", err)
	} else {
		a.Sex = v
	}
	if a.Name != "" {
		add("name", Name(a.Name))
	}
	if a.DOB != "" {
		add("dob", DOB(a.DOB, now))
	}
	return invalid("invalid animal", errs)
}

// invalid builds the EINVALID error for a list of field errors, or nil.
func invalid(what string, errs []farm.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return &farm.Error{
		Code:    farm.EINVALID,
		Message: what + ": " + strings.Join(msgs, "; "),
		Fields:  errs,
	}
}

// quote shows a client's value in a message, shortened so that a huge
// value cannot blow up a log line or a response.
func quote(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
