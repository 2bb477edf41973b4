package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/farmhq/farm"
)

var animals = []farm.Animal{
	{ID: "a", Species: "cow", Sex: "female", Rev: "1-x"},
	{ID: "b~c.d_e", Species: "chicken", Sex: "male", Name: `Béa "the" <hen> & co\\ 🐔` + "\u2028\u2029\x7f\xff", DOB: "2020-02-29", Rev: "12-ab"},
}

func TestAnimalIsWhatEncodingJSONWrites(t *testing.T) {
	for _, a := range animals {
		want, _ := json.Marshal(a)
		if got := Animal([]byte("x"), &a); string(got) != "x"+string(want) {
			t.Errorf("Animal:\n got %s\nwant x%s", got, want)
		}
	}
}

func TestChangeIsWhatEncodingJSONWrites(t *testing.T) {
	for i, a := range animals {
		fields := a
		for _, c := range []farm.Change{
			{Seq: int64(i + 1), Kind: farm.ChangeCreated, ID: a.ID, Rev: a.Rev, Animal: &a, Fields: &fields},
			{Seq: 1 << 40, Kind: farm.ChangeUpdated, ID: a.ID, Rev: a.Rev, Animal: &a, Fields: &fields, Before: &fields},
			{Seq: 0, Kind: farm.ChangeDeleted, ID: a.ID, Fields: &fields},
			{Seq: -3, Kind: farm.ChangeDeleted, ID: a.ID},
		} {
			want, _ := json.Marshal(c)
			if got := Change(nil, &c); string(got) != string(want) {
				t.Errorf("Change:\n got %s\nwant %s", got, want)
			}
		}
	}
}

func TestString2IsTheJoinedString(t *testing.T) {
	want, _ := json.Marshal("http://farm.example/api/v1/animal/<a&b>")
	if got := String2(nil, "http://farm.example", "/api/v1/animal/<a&b>"); string(got) != string(want) {
		t.Errorf("String2 = %s, want %s", got, want)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "<>&", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "é🐄", strings.Repeat("x", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Skip()
		}
		if got := String(nil, s); string(got) != string(want) {
			t.Fatalf("String(%q) = %s, want %s", s, got, want)
		}
	})
}

func FuzzChange(f *testing.F) {
	f.Add(int64(7), "created", "a", "1-x", "cow", "female", "Béa <3", "2020-02-29", true)
	f.Add(int64(8), "deleted", "b\x00", "", "", "", "", "", false)
	f.Fuzz(func(t *testing.T, seq int64, kind, id, rev, species, sex, name, dob string, withAnimal bool) {
		c := farm.Change{Seq: seq, Kind: kind, ID: id, Rev: rev}
		if withAnimal {
			c.Animal = &farm.Animal{ID: id, Species: species, Sex: sex, Name: name, DOB: dob, Rev: rev}
		}
		want, err := json.Marshal(c)
		if err != nil {
			t.Skip()
		}
		if got := Change(nil, &c); string(got) != string(want) {
			t.Fatalf("Change(%+v) =\n %s\nwant %s", c, got, want)
		}
	})
}

func BenchmarkChange(b *testing.B) {
	a := animals[1]
	c := farm.Change{Seq: 123456, Kind: farm.ChangeCreated, ID: a.ID, Rev: a.Rev, Animal: &a}
	b.Run("jsonenc", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = Change(buf[:0], &c)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(c)
		}
	})
}
