package transfer

import (
	"context"

	"github.com/farmhq/farm"
)

// Source returns how to read every record of st: its own export when it
// has one (one consistent view), else its listing, page after page by
// cursor.
func Source(st farm.AnimalStore) farm.AnimalExporter {
	if e, ok := st.(farm.AnimalExporter); ok {
		return e
	}
	return listing{st}
}

type listing struct{ st farm.AnimalStore }

func (l listing) ExportAnimals(ctx context.Context, fn func(*farm.Animal) error) error {
	after := ""
	for {
		page, _, err := l.st.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{After: after, Limit: 1000})
		if err != nil {
			return err
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// Sink returns how to write batches into st: its own import when it has
// one (a transaction a batch), else one write a record.
func Sink(st farm.AnimalStore) farm.AnimalImporter {
	if i, ok := st.(farm.AnimalImporter); ok {
		return i
	}
	return oneByOne{st}
}

type oneByOne struct{ st farm.AnimalStore }

func (o oneByOne) ImportAnimals(ctx context.Context, batch []*farm.Animal, mode farm.ImportMode) ([]farm.ImportOutcome, error) {
	out := make([]farm.ImportOutcome, len(batch))
	for i := range out {
		out[i] = farm.NotTried
	}
	for i, a := range batch {
		rec := *a
		err := o.st.CreateAnimal(ctx, &rec)
		switch {
		case err == nil:
			out[i] = farm.Created
			continue
		case farm.ErrorCode(err) != farm.ECONFLICT:
			return nil, err
		}
		switch mode {
		case farm.ImportSkip:
			out[i] = farm.Skipped
		case farm.ImportFail:
			out[i] = farm.Conflicted
			return out, nil
		case farm.ImportReplace:
			if err := replace(ctx, o.st, a); err != nil {
				return nil, err
			}
			out[i] = farm.Replaced
		}
	}
	return out, nil
}

// replace overwrites the record with a's id, whatever its revision:
// compare-and-swap, tried again when another writer came between.
func replace(ctx context.Context, st farm.AnimalStore, a *farm.Animal) error {
	for {
		cur, err := st.FindAnimal(ctx, a.ID)
		if err != nil {
			return err
		}
		if cur.Equal(a) {
			return nil
		}
		rec := *a
		err = st.ReplaceAnimal(ctx, &rec, cur.Rev)
		if farm.ErrorCode(err) == farm.EPRECONDITION {
			continue
		}
		return err
	}
}
