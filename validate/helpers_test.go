package validate

import (
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/internal/farmtest"
)

// now is the fixed clock of these tests: 2024-06-15, noon UTC.
var now = time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)

func farmError(t *testing.T, err error) *farm.Error {
	t.Helper()
	return farmtest.Error(t, err, farm.EINVALID)
}

func wantFields(t *testing.T, err error, fields ...string) *farm.Error {
	t.Helper()
	return farmtest.Fields(t, err, farm.EINVALID, fields...)
}
