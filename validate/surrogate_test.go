package validate

import (
	"strings"
	"testing"

	"github.com/farmhq/farm"
)

// loneSurrogateBodies escape a surrogate that is not half of a pair:
// encoding/json would read each as U+FFFD.
var loneSurrogateBodies = []string{
	`{"id":"a","species":"cow","sex":"male","name":"\ud800"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\uD800"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\udc00"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\udfff"}`,
	`{"id":"a","species":"cow","sex":"male","name":"x\udbffy"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud800\u0041"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud800\n"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud800\ud800"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\udc04\ud83d"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud83d\\udc04"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud800\ud83d\udc04"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud83d\udc04\udc04"}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud83d"}`,
	`{"id":"\ud800","species":"cow","sex":"male"}`,
	`{"id":"a","species":"cow\udc00","sex":"male"}`,
	`{"id":"a","species":"cow","sex":"male","dob":"\udbff"}`,
	`{"\ud800":"a","id":"a","species":"cow","sex":"male"}`,
	`{"id":"a","species":"cow","sex":"male","n\ud800ame":"x"}`,
	`{"id":"a","species":"cow","sex":"male","colour":"\ud800"}`,
	`{"id":"a","species":"cow","sex":"male","colour":["x",{"y":"\udc00"}]}`,
	`{"id":"a","species":"cow","sex":"male","colour":{"\ud800":1}}`,
	`{"id":"a","species":"cow","sex":"male","name":"\ud800","name":"x"}`,
}

// wantSurrogateError checks that err refuses a lone surrogate as invalid
// UTF-8 is refused: the body's fault, naming no field.
func wantSurrogateError(t *testing.T, body string, err error) {
	t.Helper()
	fe := farmError(t, err)
	if !strings.Contains(fe.Message, "surrogate") {
		t.Errorf("%s: message %q does not mention the surrogate", body, fe.Message)
	}
	if len(fe.Fields) != 0 {
		t.Errorf("%s: field errors %+v, want none (as for invalid UTF-8)", body, fe.Fields)
	}
}

func TestLoneSurrogateRefused(t *testing.T) {
	cur := &farm.Animal{ID: "a", Species: "cow", Sex: "male", Rev: "1"}
	for _, body := range loneSurrogateBodies {
		a, err := DecodeAnimal([]byte(body), now)
		if a != nil {
			t.Errorf("DecodeAnimal(%s) = %+v, want an error", body, *a)
		}
		wantSurrogateError(t, body, err)

		a, err = Replacement("a", []byte(body), now)
		if a != nil {
			t.Errorf("Replacement(a, %s) = %+v, want an error", body, *a)
		}
		wantSurrogateError(t, body, err)

		a, err = Merge(cur, []byte(body), now)
		if a != nil {
			t.Errorf("Merge(%s) = %+v, want an error", body, *a)
		}
		wantSurrogateError(t, body, err)
	}
	// A patch that only removes, or only names the current id.
	for _, patch := range []string{`{"\ud800":null}`, `{"name":null,"x\udc00":null}`, `{"id":"a\ud800"}`} {
		a, err := Merge(cur, []byte(patch), now)
		if a != nil {
			t.Errorf("Merge(%s) = %+v, want an error", patch, *a)
		}
		wantSurrogateError(t, patch, err)
	}
}

// The same error, the same shape, as the raw invalid UTF-8 it stands for.
func TestLoneSurrogateLikeInvalidUTF8(t *testing.T) {
	_, raw := DecodeAnimal([]byte("{\"id\":\"a\",\"species\":\"cow\",\"sex\":\"male\",\"name\":\"\xed\xa0\x80\"}"), now)
	_, esc := DecodeAnimal([]byte(`{"id":"a","species":"cow","sex":"male","name":"\ud800"}`), now)
	r, e := farmError(t, raw), farmError(t, esc)
	if r.Code != e.Code || len(r.Fields) != len(e.Fields) {
		t.Errorf("raw %+v, escaped %+v: want the same shape", r, e)
	}
}

func TestSurrogatePairAccepted(t *testing.T) {
	cases := []struct{ body, name string }{
		{`{"id":"a","species":"cow","sex":"male","name":"\ud83d\udc04"}`, "🐄"},
		{`{"id":"a","species":"cow","sex":"male","name":"\uD83D\uDC04"}`, "🐄"},
		{`{"id":"a","species":"cow","sex":"male","name":"\ud800\udc00"}`, "\U00010000"},
		{`{"id":"a","species":"cow","sex":"male","name":"\udbff\udfff"}`, "\U0010FFFF"},
		{`{"id":"a","species":"cow","sex":"male","name":"a\ud83d\udc04\ud83d\udc14b"}`, "a🐄🐔b"},
		{`{"id":"a","species":"cow","sex":"male","name":"\ud7ff\ue000"}`, "\ud7ff\ue000"},
		// An escaped backslash, then text: no escape at all.
		{`{"id":"a","species":"cow","sex":"male","name":"\\ud800"}`, `\ud800`},
		{`{"id":"a","species":"cow","sex":"male","name":"\\\ud83d\udc04"}`, `\🐄`},
	}
	cur := &farm.Animal{ID: "a", Species: "cow", Sex: "male", Rev: "1"}
	for _, c := range cases {
		want := farm.Animal{ID: "a", Species: "cow", Sex: "male", Name: c.name}
		if a, err := DecodeAnimal([]byte(c.body), now); err != nil || *a != want {
			t.Errorf("DecodeAnimal(%s) = %+v, %v; want %+v", c.body, a, err, want)
		}
		if a, err := Replacement("a", []byte(c.body), now); err != nil || *a != want {
			t.Errorf("Replacement(a, %s) = %+v, %v; want %+v", c.body, a, err, want)
		}
		if a, err := Merge(cur, []byte(c.body), now); err != nil || *a != want {
			t.Errorf("Merge(%s) = %+v, %v; want %+v", c.body, a, err, want)
		}
	}
}
