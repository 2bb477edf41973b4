package validate

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/farmhq/farm"
)

// now is the fixed clock of these tests: 2024-06-15, noon UTC.
var now = time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)

// farmError asserts that err is an EINVALID *farm.Error and returns it.
func farmError(t *testing.T, err error) *farm.Error {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want an EINVALID *farm.Error")
	}
	var fe *farm.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *farm.Error", err, err)
	}
	if fe.Code != farm.EINVALID {
		t.Fatalf("error code = %q, want %q (error %v)", fe.Code, farm.EINVALID, err)
	}
	if fe.Message == "" {
		t.Fatal("error has an empty Message")
	}
	return fe
}

// fieldNames lists the Field of every FieldError of e, in order.
func fieldNames(e *farm.Error) []string {
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f.Field
	}
	return out
}

// wantFields asserts that err is an EINVALID *farm.Error whose Fields are
// exactly fields, in that order, and whose Message names each of them.
func wantFields(t *testing.T, err error, fields ...string) *farm.Error {
	t.Helper()
	fe := farmError(t, err)
	if got := fieldNames(fe); !slices.Equal(got, fields) {
		t.Fatalf("error fields = %q, want %q (message %q)", got, fields, fe.Message)
	}
	for _, f := range fe.Fields {
		if f.Message == "" {
			t.Errorf("field error %q has an empty message", f.Field)
		}
		if !strings.Contains(fe.Message, f.Field+": ") && !strings.Contains(fe.Message, strconv.Quote(f.Field)) {
			t.Errorf("message %q does not name field %q", fe.Message, f.Field)
		}
	}
	return fe
}
