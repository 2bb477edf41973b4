package sqlite

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/farmhq/farm"
)

// A record as the record cache keeps it: every field but the id (the
// cache's key), in about half the bytes of its text, so that the cache
// holds twice the records (on a million records: 40 bytes a record
// against 75, and a read at random finding its record in the cache seven
// times in ten instead of five). Species and sex are one byte each when
// they are one of the values the API stores, the date of birth three
// bytes, the revision its generation and eight bytes; anything else, as
// its text. The name comes last, as it is.

// Field forms: the first byte of each field.
const (
	formFirst   = 0 // species, sex: the first of their two values
	formSecond  = 1 // the second
	formText    = 2 // a length byte, then the text
	formNone    = 3 // dob: none
	formDate    = 4 // dob: year (14 bits), month (4), day (5), in 3 bytes
	formRevHash = 5 // rev: its generation (uvarint), then 8 bytes of hash
)

// pack appends a's fields but the id; false when one cannot be packed
// (a text over 255 bytes where the API allows none).
func pack(dst []byte, a *farm.Animal) ([]byte, bool) {
	var ok1, ok2, ok3, ok4 bool
	dst, ok1 = packPair(dst, a.Species, farm.SpeciesChicken, farm.SpeciesCow)
	dst, ok2 = packPair(dst, a.Sex, farm.SexFemale, farm.SexMale)
	dst, ok3 = packDate(dst, a.DOB)
	dst, ok4 = packRev(dst, a.Rev)
	return append(dst, a.Name...), ok1 && ok2 && ok3 && ok4
}

func packText(dst []byte, s string) ([]byte, bool) {
	if len(s) > 255 {
		return dst, false
	}
	return append(append(dst, formText, byte(len(s))), s...), true
}

func packPair(dst []byte, s, first, second string) ([]byte, bool) {
	switch s {
	case first:
		return append(dst, formFirst), true
	case second:
		return append(dst, formSecond), true
	}
	return packText(dst, s)
}

func packDate(dst []byte, d string) ([]byte, bool) {
	if d == "" {
		return append(dst, formNone), true
	}
	y, m, day, ok := digits(d, 0, 4), digits(d, 5, 2), digits(d, 8, 2), len(d) == 10 && d[4] == '-' && d[7] == '-'
	if !ok || y < 0 || m < 0 || m > 15 || day < 0 || day > 31 {
		return packText(dst, d)
	}
	v := y<<9 | m<<5 | day
	return append(dst, formDate, byte(v>>16), byte(v>>8), byte(v)), true
}

// digits is the number the n digits of s at i make, or -1.
func digits(s string, i, n int) int {
	if i+n > len(s) {
		return -1
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return -1
		}
		v = 10*v + int(c-'0')
	}
	return v
}

func packRev(dst []byte, rev string) ([]byte, bool) {
	gen, hash, ok := revParts(rev)
	if !ok {
		return packText(dst, rev)
	}
	dst = binary.AppendUvarint(append(dst, formRevHash), gen)
	return append(dst, hash[:]...), true
}

// revParts splits a revision as store.NextRev makes them: a generation
// in decimal, "-", 16 lower-case hexadecimal digits.
func revParts(rev string) (gen uint64, hash [8]byte, ok bool) {
	g, h, found := strings.Cut(rev, "-")
	n, err := strconv.ParseUint(g, 10, 32)
	if !found || err != nil || strconv.FormatUint(n, 10) != g || len(h) != 16 {
		return 0, hash, false
	}
	for i := range 8 {
		hi, lo := unhex(h[2*i]), unhex(h[2*i+1])
		if hi < 0 || lo < 0 {
			return 0, hash, false
		}
		hash[i] = byte(hi<<4 | lo)
	}
	return n, hash, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

// unpack sets a's fields but the id from what pack made; false when it
// does not read back.
func unpack(a *farm.Animal, b []byte) bool {
	var ok bool
	if a.Species, b, ok = unpackPair(b, farm.SpeciesChicken, farm.SpeciesCow); !ok {
		return false
	}
	if a.Sex, b, ok = unpackPair(b, farm.SexFemale, farm.SexMale); !ok {
		return false
	}
	if len(b) < 1 {
		return false
	}
	switch b[0] {
	case formNone:
		a.DOB, b = "", b[1:]
	case formDate:
		if len(b) < 4 {
			return false
		}
		v := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		var d [10]byte
		put := func(i, n, x int) {
			for j := i + n - 1; j >= i; j-- {
				d[j], x = byte('0'+x%10), x/10
			}
		}
		put(0, 4, v>>9)
		d[4] = '-'
		put(5, 2, v>>5&15)
		d[7] = '-'
		put(8, 2, v&31)
		a.DOB, b = string(d[:]), b[4:]
	default:
		if a.DOB, b, ok = unpackText(b); !ok {
			return false
		}
	}
	if len(b) < 1 {
		return false
	}
	if b[0] == formRevHash {
		n, k := binary.Uvarint(b[1:])
		if k <= 0 || len(b) < 1+k+8 {
			return false
		}
		var r [10 + 1 + 16]byte
		rev := strconv.AppendUint(r[:0], n, 10)
		rev = append(rev, '-')
		rev = hex.AppendEncode(rev, b[1+k:1+k+8])
		a.Rev, b = string(rev), b[1+k+8:]
	} else if a.Rev, b, ok = unpackText(b); !ok {
		return false
	}
	a.Name = string(b)
	return true
}

func unpackPair(b []byte, first, second string) (string, []byte, bool) {
	if len(b) < 1 {
		return "", nil, false
	}
	switch b[0] {
	case formFirst:
		return first, b[1:], true
	case formSecond:
		return second, b[1:], true
	}
	return unpackText(b)
}

func unpackText(b []byte) (string, []byte, bool) {
	if len(b) < 2 || b[0] != formText {
		return "", nil, false
	}
	n := 2 + int(b[1]) // in int: 2+b[1] in bytes wraps past 253
	if len(b) < n {
		return "", nil, false
	}
	return string(b[2:n]), b[n:], true
}
