// Package jsonenc writes farm's records and changes as JSON by hand,
// appending to a caller's buffer: byte for byte what encoding/json writes
// (its HTML escaping included; fuzz tests hold them to it), without its
// reflection, which costs a page of 100 records more than reading it and
// a round of the change feed more than the store's read of it.
package jsonenc

import (
	"strconv"
	"unicode/utf8"

	"github.com/farmhq/farm"
)

// Animal appends a record as json.Marshal writes a farm.Animal.
func Animal(b []byte, a *farm.Animal) []byte {
	b = append(b, `{"id":`...)
	b = String(b, a.ID)
	b = append(b, `,"species":`...)
	b = String(b, a.Species)
	b = append(b, `,"sex":`...)
	b = String(b, a.Sex)
	if a.Name != "" {
		b = append(b, `,"name":`...)
		b = String(b, a.Name)
	}
	if a.DOB != "" {
		b = append(b, `,"dob":`...)
		b = String(b, a.DOB)
	}
	return append(b, '}')
}

// Change appends a change as json.Marshal writes a farm.Change.
func Change(b []byte, c *farm.Change) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, c.Seq, 10)
	b = append(b, `,"kind":`...)
	b = String(b, c.Kind)
	b = append(b, `,"id":`...)
	b = String(b, c.ID)
	if c.Rev != "" {
		b = append(b, `,"rev":`...)
		b = String(b, c.Rev)
	}
	if c.Animal != nil {
		b = append(b, `,"animal":`...)
		b = Animal(b, c.Animal)
	}
	return append(b, '}')
}

// String appends s as a JSON string.
func String(b []byte, s string) []byte {
	b = append(b, '"')
	b = escaped(b, s)
	return append(b, '"')
}

// String2 appends s1+s2 as one JSON string, without joining them first.
func String2(b []byte, s1, s2 string) []byte {
	b = append(b, '"')
	b = escaped(b, s1)
	b = escaped(b, s2)
	return append(b, '"')
}

const hex = "0123456789abcdef"

func escaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // control characters, and <, > and & (HTML)
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' { // JSONP-safe, as encoding/json does
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// safe reports whether an ASCII byte goes into a JSON string as it is.
func safe(c byte) bool {
	return c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}
