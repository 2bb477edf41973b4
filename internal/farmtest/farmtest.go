// Package farmtest holds the assertions that the tests of several
// packages make about farm's errors.
package farmtest

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/farmhq/farm"
)

// Error asserts that err is a *farm.Error of the code, with a message, and
// returns it.
func Error(t testing.TB, err error, code string) *farm.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a %s *farm.Error", code)
	}
	var fe *farm.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *farm.Error", err, err)
	}
	if fe.Code != code {
		t.Fatalf("error code = %q, want %q (error %v)", fe.Code, code, err)
	}
	if fe.Message == "" {
		t.Fatal("error has an empty Message")
	}
	return fe
}

// FieldNames lists the Field of every FieldError of e, in order.
func FieldNames(e *farm.Error) []string {
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f.Field
	}
	return out
}

// Fields asserts that err is a *farm.Error of the code whose Fields are
// exactly fields, in that order, and whose Message names each of them.
func Fields(t testing.TB, err error, code string, fields ...string) *farm.Error {
	t.Helper()
	fe := Error(t, err, code)
	if got := FieldNames(fe); !slices.Equal(got, fields) {
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
