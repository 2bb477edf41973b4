package couchdb_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/internal/testbed"
	"github.com/farmhq/farm/store/couchdb"
	"github.com/farmhq/farm/store/storetest"
)

// TestConformance runs the store suite against a real CouchDB API
// (express-pouchdb), a new database for each test.
func TestConformance(t *testing.T) {
	server := testbed.StartCouchDB(t)
	var n atomic.Int32
	storetest.Run(t, func(t *testing.T) farm.AnimalStore {
		s, err := couchdb.Open(context.Background(), fmt.Sprintf("%s/farm-%d", server, n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Two stores on one database: what one writes the other reads, and the
// design document is set up once.
func TestShared(t *testing.T) {
	server := testbed.StartCouchDB(t)
	ctx := context.Background()
	a, err := couchdb.Open(ctx, server+"/shared")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := couchdb.Open(ctx, server+"/shared")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.CreateAnimal(ctx, &farm.Animal{ID: "_under", Species: "cow", Sex: "male"}); err != nil {
		t.Fatal(err)
	}
	got, err := b.FindAnimal(ctx, "_under")
	if err != nil || got.Species != "cow" {
		t.Fatalf("through the other store: %+v %v", got, err)
	}
	if _, n, err := b.ListAnimals(ctx, farm.AnimalFilter{Species: "cow"}, farm.Page{Offset: 0, Limit: 10}); err != nil || n != 1 {
		t.Errorf("listing through the other store: %d %v", n, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"not a url", "http://127.0.0.1:1/farm", "http://host/a/b"} {
		if _, err := couchdb.Open(ctx, u); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}
