// Package farm holds the domain of the farm service: the animal record, the
// errors every layer speaks, and the interface every store implements.
// It imports nothing of the project; everything else imports it.
package farm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
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

// AnimalExporter is a store that can hand out every record, in id order,
// from one consistent view of the store where it has one (SQLite's read
// transaction), in constant memory.
type AnimalExporter interface {
	ExportAnimals(ctx context.Context, fn func(*Animal) error) error
}

// ImportMode says what an import does with a record whose id exists.
type ImportMode byte

const (
	ImportSkip    ImportMode = iota // keep the stored record
	ImportReplace                   // replace it
	ImportFail                      // stop the import there
)

// ImportOutcome is what an import did with one record.
type ImportOutcome byte

const (
	Created    ImportOutcome = iota // the record is new
	Replaced                        // it replaced one with its id (ImportReplace)
	Skipped                         // one with its id was kept (ImportSkip)
	Conflicted                      // one with its id exists (ImportFail): the import stops
	NotTried                        // after a conflict, under ImportFail
)

// AnimalImporter is a store that writes a batch of valid records in one
// transaction (or one bulk request), with new revisions. The outcomes are
// the records', in order; the error is the store's own failure, and then
// nothing of the batch is written.
type AnimalImporter interface {
	ImportAnimals(ctx context.Context, batch []*Animal, mode ImportMode) ([]ImportOutcome, error)
}

// Error codes, after the ones Ben Johnson's WTF Dial uses. Each code means
// one HTTP status, decided in one place (http/errors.go).
const (
	ECONFLICT     = "conflict"         // the record exists (409)
	EINTERNAL     = "internal"         // a bug (500)
	EINVALID      = "invalid"          // a record or body breaks a rule (409, the original API's contract)
	EINVALIDARG   = "invalid_argument" // a query argument breaks a rule (400)
	ENOTFOUND     = "not_found"        // no such record (404)
	EPRECONDITION = "precondition"     // the record changed since the client read it (412)
	EUNAVAILABLE  = "unavailable"      // the store cannot be reached or timed out (503)
	EFULL         = "full"             // the store's disk is full (507)
	EUNAUTHORIZED = "unauthorized"     // a write without a valid token (401)
	ETOOLARGE     = "too_large"        // a body over the limit (413)
	EUNSUPPORTED  = "unsupported"      // a body of a media type farm does not take (415)
	EGONE         = "gone"             // what was asked for is no longer kept (410)
	EOVERLOADED   = "overloaded"       // too much at once; try again later (503)
	ETIMEOUT      = "timeout"          // the request did not arrive in time (408)
)

// MaxFieldErrors bounds the field errors one error lists: a body with a
// hundred thousand unknown members gets a short answer, not a huge one.
const MaxFieldErrors = 20

// FieldError names one field that breaks a rule.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Error is the project's error: a code for machines, a message for people,
// and for EINVALID and EINVALIDARG the fields at fault.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// Err is the cause, for the log; clients see Message alone.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid builds the error of a list of field errors (nil when there are
// none): the code, "what: field: message; ...", and the fields. It lists at
// most MaxFieldErrors; more (the ones in errs and extra others a decoder
// stopped counting one by one) are summed up as "and N more".
func Invalid(code, what string, errs []FieldError, extra int) error {
	if len(errs) == 0 && extra == 0 {
		return nil
	}
	more := extra
	if len(errs) > MaxFieldErrors {
		more += len(errs) - MaxFieldErrors
		errs = errs[:MaxFieldErrors:MaxFieldErrors]
	}
	// A field's name may be the client's (an unknown member): no longer
	// than the values an error quotes.
	for i, e := range errs {
		if short := shortName(e.Field); short != e.Field {
			errs = append([]FieldError(nil), errs...)
			for j := i; j < len(errs); j++ {
				errs[j].Field = shortName(errs[j].Field)
			}
			break
		}
	}
	var b strings.Builder
	b.WriteString(what)
	b.WriteString(": ")
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	if more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return &Error{Code: code, Message: b.String(), Fields: errs}
}

// shortName is a field name cut to 40 characters and "…".
func shortName(s string) string {
	const max = 40
	if len(s) <= max || utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
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
