// Package farm holds the domain of the farm service: the animal record, the
// errors every layer speaks, and the interface every store implements.
// It imports nothing of the project; everything else imports it.
package farm

import (
	"context"
	"errors"
	"fmt"
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

// AnimalFilter selects records by exact match; an empty field does not
// filter.
type AnimalFilter struct {
	Species string
	Sex     string
	Name    string
	DOB     string
}

// Page selects part of a listing: Limit records from Offset, or, with a
// cursor, the Limit records right after the id After, or the Limit records
// right before the id Before. A cursor keeps its place while records
// before it come and go; an offset does not.
type Page struct {
	Offset int
	Limit  int
	After  string
	Before string
}

// AnimalStore keeps animal records. Every implementation passes the
// conformance suite in store/storetest. Writes return only once the change
// is durable (for stores that are durable at all).
type AnimalStore interface {
	// CreateAnimal stores a new record and sets a.Rev. ECONFLICT when the id
	// exists.
	CreateAnimal(ctx context.Context, a *Animal) error
	// FindAnimal returns the record with its Rev. ENOTFOUND when absent.
	FindAnimal(ctx context.Context, id string) (*Animal, error)
	// ReplaceAnimal overwrites the record a.ID when its current revision is
	// rev, and sets a.Rev to the new one. ENOTFOUND when absent,
	// EPRECONDITION when the revision differs.
	ReplaceAnimal(ctx context.Context, a *Animal, rev string) error
	// DeleteAnimal removes the record; with a non-empty rev only when that
	// is its current revision. ENOTFOUND, EPRECONDITION as above.
	DeleteAnimal(ctx context.Context, id, rev string) error
	// ListAnimals returns the part of the records matching f, ordered by
	// id in byte order, that p selects, and the number of all matching
	// records (the cursor aside). SQLite and RAM read both from one
	// snapshot; CouchDB in two requests.
	ListAnimals(ctx context.Context, f AnimalFilter, p Page) ([]*Animal, int, error)
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store; the store is unusable afterwards.
	Close() error
}

// Error codes, after the ones Ben Johnson's WTF Dial uses: the transport
// layers map them to their own statuses.
const (
	ECONFLICT     = "conflict"     // the record exists
	EINTERNAL     = "internal"     // a bug or a failing dependency
	EINVALID      = "invalid"      // input breaks a rule
	ENOTFOUND     = "not_found"    // no such record
	EPRECONDITION = "precondition" // the record changed since the client read it
)

// FieldError names one field that breaks a rule.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Error is the project's error: a code for machines, a message for people,
// and for EINVALID the fields at fault.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	return e.Message
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err when it is (or wraps) an *Error, and
// EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of an *Error, and a generic text for any
// other error, whose details are for the log, not for clients.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
