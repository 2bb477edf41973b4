package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/farmhq/farm"
)

// member is one name/value pair of a JSON object, the value still raw.
type member struct {
	name  string
	value json.RawMessage
}

// object reads body as exactly one JSON object and returns its members in
// order. It refuses what encoding/json would let through quietly: invalid
// UTF-8 (which it would turn into U+FFFD), a repeated member name (where
// parsers disagree on which one wins), and anything after the object.
func object(body []byte) ([]member, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, farm.Errorf(farm.EINVALID, "the body is empty: expected a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, farm.Errorf(farm.EINVALID, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, farm.Errorf(farm.EINVALID, "the body must be a JSON object, not %s", jsonKind(tok))
	}
	var ms []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		name := tok.(string) // inside an object the decoder yields names as strings
		if seen[name] {
			return nil, &farm.Error{Code: farm.EINVALID,
				Message: fmt.Sprintf("member %s appears more than once", quote(name)),
				Fields:  []farm.FieldError{{Field: name, Message: "appears more than once"}}}
		}
		seen[name] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, syntaxError(err)
		}
		ms = append(ms, member{name: name, value: bytes.TrimSpace(v)})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, farm.Errorf(farm.EINVALID, "malformed JSON: data after the object")
	}
	return ms, nil
}

func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return farm.Errorf(farm.EINVALID, "malformed JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return farm.Errorf(farm.EINVALID, "malformed JSON: unexpected end of the body")
	}
	return farm.Errorf(farm.EINVALID, "malformed JSON: %v", err)
}

// jsonKind names the JSON type of a token or raw value for messages.
func jsonKind(v any) string {
	switch t := v.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "an object"
	case json.RawMessage:
		if len(t) == 0 {
			return "nothing"
		}
		switch t[0] {
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
		default:
			return "a number"
		}
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "a number"
	}
}

// animalFrom builds an animal from object members, checking each member's
// type and name, then every field rule. All faults are reported at once.
func animalFrom(ms []member, now time.Time) (*farm.Animal, error) {
	var a farm.Animal
	var errs []farm.FieldError
	for _, m := range ms {
		var dst *string
		switch m.name {
		case "id":
			dst = &a.ID
		case "species":
			dst = &a.Species
		case "sex":
			dst = &a.Sex
		case "name":
			dst = &a.Name
		case "dob":
			dst = &a.DOB
		default:
			errs = append(errs, farm.FieldError{Field: m.name, Message: "is not a field of an animal (fields: id, species, sex, name, dob)"})
			continue
		}
		if m.value[0] != '"' {
			msg := "must be a string, not " + jsonKind(m.value)
			if m.value[0] == 'n' {
				msg = "must not be null (leave the field out instead)"
			}
			errs = append(errs, farm.FieldError{Field: m.name, Message: msg})
			continue
		}
		var s string
		if err := json.Unmarshal(m.value, &s); err != nil {
			errs = append(errs, farm.FieldError{Field: m.name, Message: "is not a valid JSON string"})
			continue
		}
		if s == "" && (m.name == "name" || m.name == "dob") {
			// An empty optional field would read as absent; say so instead.
			errs = append(errs, farm.FieldError{Field: m.name, Message: "must not be empty (leave the field out instead)"})
			continue
		}
		if s == "" {
			errs = append(errs, farm.FieldError{Field: m.name, Message: "must not be empty"})
			continue
		}
		*dst = s
	}
	if err := Animal(&a, now); err != nil {
		var fe *farm.Error
		errors.As(err, &fe)
		for _, f := range fe.Fields {
			if !slices.ContainsFunc(errs, func(e farm.FieldError) bool { return e.Field == f.Field }) {
				errs = append(errs, f)
			}
		}
	}
	slices.SortStableFunc(errs, func(x, y farm.FieldError) int { return fieldRank(x.Field) - fieldRank(y.Field) })
	if err := invalid("invalid animal", errs); err != nil {
		return nil, err
	}
	return &a, nil
}

// DecodeAnimal reads a request body as a whole animal record and checks it.
// Errors are EINVALID *farm.Error values that name the fields at fault.
func DecodeAnimal(body []byte, now time.Time) (*farm.Animal, error) {
	ms, err := object(body)
	if err != nil {
		return nil, err
	}
	return animalFrom(ms, now)
}

// Replacement reads a PUT body for the record id: a whole record whose id
// may be left out, and if given must be id.
func Replacement(id string, body []byte, now time.Time) (*farm.Animal, error) {
	ms, err := object(body)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(ms, func(m member) bool { return m.name == "id" }) {
		ms = append(ms, member{name: "id", value: mustJSON(id)})
	}
	a, err := animalFrom(ms, now)
	if err != nil {
		return nil, err
	}
	if a.ID != id {
		return nil, &farm.Error{Code: farm.EINVALID,
			Message: fmt.Sprintf("invalid animal: id: %s does not match the URL's %s", quote(a.ID), quote(id)),
			Fields:  []farm.FieldError{{Field: "id", Message: "does not match the URL"}}}
	}
	return a, nil
}

func mustJSON(s string) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a Go string always marshals
	}
	return b
}
