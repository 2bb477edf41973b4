package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/farmhq/farm"
)

// ExportAnimals implements farm.AnimalExporter through the API: the
// listing of whole records, 1000 a page, following its next links (whose
// cursors neither repeat nor skip a record while others write).
func (c *Client) ExportAnimals(ctx context.Context, fn func(*farm.Animal) error) error {
	uri := "/api/v1/animal?per_page=1000&fields=all"
	for uri != "" {
		r, err := c.Do(ctx, http.MethodGet, uri, nil, nil)
		if err != nil {
			return err
		}
		var page []struct {
			farm.Animal
			Rev string `json:"_rev"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			return fmt.Errorf("listing: unexpected body: %v", err)
		}
		for i := range page {
			a := page[i].Animal
			a.Rev = page[i].Rev
			if err := fn(&a); err != nil {
				return err
			}
		}
		uri = linkRel(r.Header.Get("Link"), "next")
	}
	return nil
}

// ImportAnimals implements farm.AnimalImporter through the API: a POST a
// record, 8 at a time; a record whose id exists is kept, replaced (PUT)
// or ends the import, as mode says.
func (c *Client) ImportAnimals(ctx context.Context, batch []*farm.Animal, mode farm.ImportMode) ([]farm.ImportOutcome, error) {
	out := make([]farm.ImportOutcome, len(batch))
	errs := make([]error, len(batch))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, a := range batch {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i], errs[i] = c.importOne(ctx, a, mode)
		})
	}
	wg.Wait()
	// Under ImportFail the records after the first conflict are not the
	// import's: sent in parallel, some may be written already.
	for i, o := range out {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if o == farm.Conflicted {
			for j := i + 1; j < len(out); j++ {
				if out[j] != farm.Created {
					out[j] = farm.NotTried
				}
			}
			break
		}
	}
	return out, nil
}

func (c *Client) importOne(ctx context.Context, a *farm.Animal, mode farm.ImportMode) (farm.ImportOutcome, error) {
	body, _ := json.Marshal(a)
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/animal", body, nil)
	if err == nil {
		return farm.Created, nil
	}
	se, ok := err.(*StatusError)
	if !ok || se.Status != http.StatusConflict {
		return 0, err
	}
	// 409 is both "exists" and "invalid" in this API: the record was
	// checked before, so ask whether it exists.
	if _, err := c.Do(ctx, http.MethodGet, AnimalPath(a.ID), nil, nil); err != nil {
		return 0, fmt.Errorf("%s: %w", a.ID, se)
	}
	switch mode {
	case farm.ImportSkip:
		return farm.Skipped, nil
	case farm.ImportFail:
		return farm.Conflicted, nil
	}
	_, err = c.Do(ctx, http.MethodPut, AnimalPath(a.ID), body, http.Header{"If-Match": {"*"}})
	if err != nil {
		return 0, err
	}
	return farm.Replaced, nil
}
