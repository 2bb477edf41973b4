package farm_test

import (
	"os"
	"strings"
	"testing"

	"github.com/farmhq/farm/config"
)

// TestREADMEListsEveryKey keeps the README's configuration table in step
// with the keys farm knows.
func TestREADMEListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, k := range config.Keys() {
		if !strings.Contains(readme, "`"+k.Key+"`") {
			t.Errorf("README.md does not document %s (%s)", k.Key, k.Doc)
		}
	}
}
