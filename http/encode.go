package http

import (
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/farmhq/farm"
)

// The records farm answers with most are encoded here by hand, into pooled
// buffers: encoding/json's reflection costs a page of 100 records more
// than reading it. The output is byte for byte what json.Marshal writes
// (its HTML escaping included; a fuzz test holds them to it).

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeEncoded writes the JSON that enc appends, with the status.
func writeEncoded(w http.ResponseWriter, status int, enc func([]byte) []byte) {
	bp := buffers.Get().(*[]byte)
	b := enc((*bp)[:0])
	b = append(b, '\n')
	writeBody(w, status, b)
	if cap(b) <= 64<<10 { // keep small buffers only
		*bp = b
		buffers.Put(bp)
	}
}

// writeAnimal writes a record as the body.
func writeAnimal(w http.ResponseWriter, status int, a *farm.Animal) {
	bp := buffers.Get().(*[]byte)
	b := append(appendAnimal((*bp)[:0], a), '\n')
	writeBody(w, status, b)
	*bp = b
	buffers.Put(bp)
}

// appendAnimal appends a record as GET answers it.
func appendAnimal(b []byte, a *farm.Animal) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, a.ID)
	b = append(b, `,"species":`...)
	b = appendString(b, a.Species)
	b = append(b, `,"sex":`...)
	b = appendString(b, a.Sex)
	if a.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, a.Name)
	}
	if a.DOB != "" {
		b = append(b, `,"dob":`...)
		b = appendString(b, a.DOB)
	}
	return append(b, '}')
}

// appendRef appends {"id", "_href"}.
func appendRef(b []byte, id, base string) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"_href":`...)
	b = appendString2(b, base, animalPath(id))
	return append(b, '}')
}

// appendRecord appends a whole record of a listing: the record, its URL
// and its revision.
func appendRecord(b []byte, a *farm.Animal, base string) []byte {
	b = appendAnimal(b, a)
	b = b[:len(b)-1]
	b = append(b, `,"_href":`...)
	b = appendString2(b, base, animalPath(a.ID))
	b = append(b, `,"_rev":`...)
	b = appendString(b, a.Rev)
	return append(b, '}')
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendString2 appends s1+s2 as one JSON string.
func appendString2(b []byte, s1, s2 string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s1)
	b = appendEscaped(b, s2)
	return append(b, '"')
}

func appendEscaped(b []byte, s string) []byte {
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
