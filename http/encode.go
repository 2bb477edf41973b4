package http

import (
	"net/http"
	"sync"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/jsonenc"
)

// The records farm answers with most are encoded by hand (jsonenc), into
// pooled buffers: encoding/json's reflection costs a page of 100 records
// more than reading it.

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
	b := append(jsonenc.Animal((*bp)[:0], a), '\n')
	writeBody(w, status, b)
	*bp = b
	buffers.Put(bp)
}

// appendRef appends {"id", "_href"}.
func appendRef(b []byte, id, base string) []byte {
	b = append(b, `{"id":`...)
	b = jsonenc.String(b, id)
	b = append(b, `,"_href":`...)
	b = jsonenc.String2(b, base, animalPath(id))
	return append(b, '}')
}

// appendRecord appends a whole record of a listing: the record, its URL
// and its revision.
func appendRecord(b []byte, a *farm.Animal, base string) []byte {
	b = jsonenc.Animal(b, a)
	b = b[:len(b)-1]
	b = append(b, `,"_href":`...)
	b = jsonenc.String2(b, base, animalPath(a.ID))
	b = append(b, `,"_rev":`...)
	b = jsonenc.String(b, a.Rev)
	return append(b, '}')
}
