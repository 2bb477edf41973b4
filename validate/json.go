// Package validate is where a request body becomes a checked record: the
// strict reading of a JSON body (one object, no repeated members, no
// unknown fields, no nulls, no wrong types) and JSON Merge Patch. The
// field rules themselves are the record's own (farm.Animal.Validate); this
// package applies them to what a client sent.
package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/farmhq/farm"
)

// object is what a JSON body holds of interest: the raw value of each
// field of an animal it names, and the names of the members that are not
// fields (the first farm.MaxFieldErrors of them, and how many more).
type object struct {
	fields      [len(farm.Fields)][]byte // raw JSON values, nil when absent
	unknown     []string
	moreUnknown int
}

// readObject reads body as exactly one JSON object. It refuses what
// encoding/json would let through quietly: invalid UTF-8 and escaped lone
// surrogates (which it would turn into U+FFFD), a repeated member name
// (where parsers disagree on which one wins), and anything after the
// object. It keeps nothing per member beyond the bound above, so a hostile
// body costs no more memory than itself.
func readObject(body []byte) (*object, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, farm.Errorf(farm.EINVALID, "the body is empty: expected a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, farm.Errorf(farm.EINVALID, "the body is not valid UTF-8")
	}
	if !json.Valid(body) {
		return nil, malformed(body)
	}
	if i := loneSurrogate(body); i >= 0 {
		return nil, farm.Errorf(farm.EINVALID, "the body is not valid Unicode: %s at byte %d is a lone surrogate", body[i:i+6], i)
	}
	// From here on the body is one well-formed JSON value: the scan below
	// only finds the members' bounds.
	s := scanner{b: body}
	s.space()
	if s.b[s.i] != '{' {
		return nil, farm.Errorf(farm.EINVALID, "the body must be a JSON object, not %s", jsonKind(s.b[s.i:]))
	}
	s.i++
	o := &object{}
	var seenUnknown map[string]bool
	for {
		s.space()
		if s.b[s.i] == '}' {
			return o, nil
		}
		if s.b[s.i] == ',' {
			s.i++
			s.space()
		}
		rawName := s.str()
		s.space()
		s.i++ // ':'
		s.space()
		start := s.i
		s.value()
		value := s.b[start:s.i]
		if r := rankOf(rawName); r < len(farm.Fields) {
			if o.fields[r] != nil {
				return nil, repeated(farm.Fields[r])
			}
			o.fields[r] = value
			continue
		}
		// A member that is not a field: the body cannot be valid. Name the
		// first few (a repeat among them is reported as one), count the rest
		// without so much as decoding their names.
		if len(o.unknown) < farm.MaxFieldErrors {
			name := unquote(rawName)
			if seenUnknown[name] {
				return nil, repeated(name)
			}
			if seenUnknown == nil {
				seenUnknown = map[string]bool{}
			}
			seenUnknown[name] = true
			o.unknown = append(o.unknown, name)
		} else {
			o.moreUnknown++
		}
	}
}

// loneSurrogate returns the offset of the first \u escape of a surrogate
// that is not half of a high-low pair, or -1. body must be valid JSON:
// then every backslash in it starts an escape.
func loneSurrogate(body []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(body[i:], '\\')
		if j < 0 {
			return -1
		}
		i += j
		if body[i+1] != 'u' {
			i += 2
			continue
		}
		r := hex4(body[i+2 : i+6])
		if !utf16.IsSurrogate(r) {
			i += 6
			continue
		}
		if len(body) >= i+12 && body[i+6] == '\\' && body[i+7] == 'u' &&
			utf16.DecodeRune(r, hex4(body[i+8:i+12])) != unicode.ReplacementChar {
			i += 12
			continue
		}
		return i
	}
}

// hex4 decodes the four hex digits of a \u escape.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// rankOf is farm.FieldRank of a member name as it stands in the body,
// quotes included, without making a string of it; an escaped name is
// decoded first.
func rankOf(raw []byte) int {
	if bytes.IndexByte(raw, '\\') >= 0 {
		return farm.FieldRank(unquote(raw))
	}
	switch string(raw[1 : len(raw)-1]) {
	case "id":
		return 0
	case "species":
		return 1
	case "sex":
		return 2
	case "name":
		return 3
	case "dob":
		return 4
	}
	return len(farm.Fields)
}

func repeated(name string) error {
	return &farm.Error{Code: farm.EINVALID,
		Message: "member " + farm.Quote(name) + " appears more than once",
		Fields:  []farm.FieldError{{Field: name, Message: "appears more than once"}}}
}

// malformed explains why body is not one JSON value, with the byte offset
// where encoding/json found the fault. Decoding into a RawMessage only
// scans: it builds nothing from the body.
func malformed(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return farm.Errorf(farm.EINVALID, "malformed JSON at byte %d: %v", se.Offset, se)
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return farm.Errorf(farm.EINVALID, "malformed JSON: unexpected end of the body")
		}
		return farm.Errorf(farm.EINVALID, "malformed JSON: %v", err)
	}
	return farm.Errorf(farm.EINVALID, "malformed JSON: data after the %s", kindNoun(raw))
}

// scanner walks a body that json.Valid accepted.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str returns the string token at s.i, quotes included.
func (s *scanner) str() []byte {
	start := s.i
	s.i++
	for s.b[s.i] != '"' {
		if s.b[s.i] == '\\' {
			s.i++
		}
		s.i++
	}
	s.i++
	return s.b[start:s.i]
}

// value steps over the value at s.i.
func (s *scanner) value() {
	switch s.b[s.i] {
	case '"':
		s.str()
	case '{', '[':
		depth := 0
		for {
			switch s.b[s.i] {
			case '"':
				s.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				return
			}
		}
	default: // a number, true, false or null
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			s.i++
		}
	}
}

// unquote returns the text of a JSON string token.
func unquote(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		panic("validate: a string that json.Valid accepted does not decode: " + err.Error())
	}
	return s
}

// jsonKind names the JSON type of a raw value for messages.
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func kindNoun(v []byte) string {
	k := jsonKind(bytes.TrimSpace(v))
	if _, noun, ok := strings.Cut(k, " "); ok {
		return noun
	}
	return k
}

// animalFrom builds an animal from an object's fields, checking each
// member's type, then every field rule. All faults are reported at once
// (up to farm.MaxFieldErrors).
func animalFrom(o *object, now time.Time) (*farm.Animal, error) {
	var a farm.Animal
	dst := [len(farm.Fields)]*string{&a.ID, &a.Species, &a.Sex, &a.Name, &a.DOB}
	var errs []farm.FieldError
	var bad [len(farm.Fields)]bool
	for r, v := range o.fields {
		if v == nil {
			continue
		}
		name := farm.Fields[r]
		msg := ""
		switch {
		case v[0] == 'n':
			msg = "must not be null (leave the field out instead)"
		case v[0] != '"':
			msg = "must be a string, not " + jsonKind(v)
		case len(v) == 2 && (name == "name" || name == "dob"):
			// An empty optional field would read as absent; say so instead.
			msg = "must not be empty (leave the field out instead)"
		case len(v) == 2:
			msg = "must not be empty"
		default:
			*dst[r] = unquote(v)
		}
		if msg != "" {
			errs = append(errs, farm.FieldError{Field: name, Message: msg})
			bad[r] = true
		}
	}
	var fe *farm.Error
	if errors.As(a.Validate(now), &fe) {
		for _, f := range fe.Fields {
			if !bad[farm.FieldRank(f.Field)] {
				errs = append(errs, f)
				bad[farm.FieldRank(f.Field)] = true
			}
		}
	}
	// Field errors in the order of the fields, the unknown members last.
	sortByField(errs)
	for _, name := range o.unknown {
		errs = append(errs, farm.FieldError{Field: name, Message: "is not a field of an animal (fields: id, species, sex, name, dob)"})
	}
	if err := farm.Invalid(farm.EINVALID, "invalid animal", errs, o.moreUnknown); err != nil {
		return nil, err
	}
	return &a, nil
}

// sortByField orders field errors as farm.Fields lists the fields (an
// insertion sort: there are at most five).
func sortByField(errs []farm.FieldError) {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && farm.FieldRank(errs[j].Field) < farm.FieldRank(errs[j-1].Field); j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}

// DecodeAnimal reads a request body as a whole animal record and checks it.
// Errors are EINVALID *farm.Error values that name the fields at fault.
func DecodeAnimal(body []byte, now time.Time) (*farm.Animal, error) {
	o, err := readObject(body)
	if err != nil {
		return nil, err
	}
	return animalFrom(o, now)
}

// Replacement reads a PUT body for the record id: a whole record whose id
// may be left out, and if given must be id.
func Replacement(id string, body []byte, now time.Time) (*farm.Animal, error) {
	o, err := readObject(body)
	if err != nil {
		return nil, err
	}
	if o.fields[0] == nil {
		o.fields[0] = mustJSON(id)
	}
	a, err := animalFrom(o, now)
	if err != nil {
		return nil, err
	}
	if a.ID != id {
		return nil, &farm.Error{Code: farm.EINVALID,
			Message: "invalid animal: id: " + farm.Quote(a.ID) + " does not match the URL's " + farm.Quote(id),
			Fields:  []farm.FieldError{{Field: "id", Message: "does not match the URL"}}}
	}
	return a, nil
}

func mustJSON(s string) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a Go string always marshals
	}
	return b
}
