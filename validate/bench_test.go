package validate

import (
	"testing"

	"github.com/farmhq/farm"
)

// go test -run '^$' -bench . -benchmem ./validate/
func BenchmarkDecodeAnimal(b *testing.B) {
	body := []byte(`{"id":"6f1c2b9e-6c1d-4b5e-9f0a-1d2e3f4a5b6c","species":"chicken","sex":"female","name":"Hen 123","dob":"2024-05-01"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAnimal(body, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	cur := &farm.Animal{ID: "a", Species: "cow", Sex: "female", Name: "Daisy", DOB: "2020-04-01", Rev: "3-x"}
	patch := []byte(`{"name":"Daisy May","dob":null}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(cur, patch, now); err != nil {
			b.Fatal(err)
		}
	}
}

// A hostile body: a hundred thousand unknown members, answered with a
// bounded error.
func BenchmarkDecodeHostile(b *testing.B) {
	var body []byte
	body = append(body, `{"id":"a","species":"cow","sex":"male"`...)
	for i := range 100000 {
		body = append(body, `,"m`...)
		body = append(body, byte('a'+i%26), byte('a'+i/26%26), byte('a'+i/676%26), byte('a'+i/17576%26))
		body = append(body, `":1`...)
	}
	body = append(body, '}')
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAnimal(body, now); err == nil {
			b.Fatal("no error")
		}
	}
}
