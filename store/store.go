// Package store holds what the store implementations share. Each
// implementation lives in a package named after what it stores to (ram,
// sqlite, ...) and passes the conformance suite in store/storetest.
package store

import (
	"github.com/farmhq/farm"

	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
)

// NextRev returns the revision that follows prev ("" for a new record), in
// CouchDB's shape: a generation that counts the writes, then random bits,
// so that a record deleted and created again never repeats an old ETag.
func NextRev(prev string) string {
	gen := 0
	if i := strings.IndexByte(prev, '-'); i > 0 {
		gen, _ = strconv.Atoi(prev[:i])
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (Go 1.24+)
	return strconv.Itoa(gen+1) + "-" + hex.EncodeToString(b[:])
}

// Match reports whether a passes the exact-match filter f.
func Match(f farm.AnimalFilter, a *farm.Animal) bool {
	return (f.Species == "" || f.Species == a.Species) &&
		(f.Sex == "" || f.Sex == a.Sex) &&
		(f.Name == "" || f.Name == a.Name) &&
		(f.DOB == "" || f.DOB == a.DOB)
}
