// Package transfer moves records between stores: export writes every
// record of a store as NDJSON, import reads NDJSON (or a JSON array),
// checks each record as the API would, and writes the valid ones in
// batches. Either end is a store opened from the configuration, or a
// running server reached through its API (package client): a move from
// one store to another is an export and an import.
package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/jsonenc"
	"github.com/farmhq/farm/validate"
)

// DefaultBatch is how many records an import writes in one transaction:
// large batches share the pages they touch (measured: 10 000 a batch
// imports 100 000 records into SQLite in 40% of the time 1 000 take).
const DefaultBatch = 10000

// maxLine bounds a line of NDJSON: a record is far smaller.
const maxLine = 1 << 20

// Export writes every record that src holds to w, one JSON object a line,
// in id order, and returns how many. progress, when set, is told the
// count as it goes.
func Export(ctx context.Context, src farm.AnimalExporter, w io.Writer, progress func(n int64)) (int64, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	var n int64
	var buf []byte
	err := src.ExportAnimals(ctx, func(a *farm.Animal) error {
		buf = appendRecord(buf[:0], a)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		n++
		if progress != nil && n%1024 == 0 {
			progress(n)
		}
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if progress != nil {
		progress(n)
	}
	return n, err
}

// appendRecord writes a record's fields as one NDJSON line, the same
// bytes as json.Marshal of the record.
func appendRecord(b []byte, a *farm.Animal) []byte {
	return append(jsonenc.Animal(b, a), '\n')
}

// Options of an import.
type Options struct {
	Mode  farm.ImportMode
	Batch int              // records a transaction; DefaultBatch when 0
	Now   func() time.Time // the clock of "dob not in the future"; time.Now when nil
	// Progress, when set, is told the records read so far and the bytes.
	Progress func(records, bytes int64)
	// Note, when set, is told what the import does besides writing
	// batches (a bulk load's start, and its indexes at the end).
	Note func(msg string)
}

// bulkLoader is a store that loads an import faster when it may take
// itself for the import's alone: SQLite, into an empty database nothing
// else has open, builds its indexes once at the end (store/sqlite/bulk.go).
// ok is false when it cannot; end must then not be called.
type bulkLoader interface {
	BeginBulk(ctx context.Context) (end func(context.Context) error, ok bool, err error)
}

// Rejection is a record an import did not write, and why.
type Rejection struct {
	Line   int    // in NDJSON the line, in a JSON array the element (from 1)
	ID     string // when it could be read
	Reason string
}

// maxRejections bounds the rejections a report lists; the rest are
// counted.
const maxRejections = 1000

// Report is what an import did.
type Report struct {
	Created, Replaced, Skipped, Rejected int64
	Rejections                           []Rejection // the first maxRejections
	// Stopped is the record that ended an import with ImportFail: its id
	// exists. Nothing after it was written.
	Stopped *Rejection
}

func (r *Report) reject(x Rejection) {
	r.Rejected++
	if len(r.Rejections) < maxRejections {
		r.Rejections = append(r.Rejections, x)
	}
}

// Import reads records from r, NDJSON or one JSON array, and writes the
// valid ones to dst, opt.Batch at a time. A record that breaks a rule is
// rejected with its line and reason; the others are written. It returns
// what it did, and an error when it could not go on (r failed, the store
// failed); a run that stopped on an error can be run again: with
// ImportSkip, what was written before is skipped.
func Import(ctx context.Context, dst farm.AnimalImporter, r io.Reader, opt Options) (rep Report, err error) {
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Note == nil {
		opt.Note = func(string) {}
	}
	if b, ok := dst.(bulkLoader); ok {
		end, on, err := b.BeginBulk(ctx)
		if err != nil {
			return rep, err
		}
		if on {
			opt.Note("bulk load: the store was empty and nothing else has it open; its indexes are built at the end")
			defer func() {
				opt.Note("building the indexes")
				// Even when the import stopped: the store is whole again.
				if e := end(context.WithoutCancel(ctx)); e != nil && err == nil {
					err = e
				}
			}()
		}
	}
	rep, err = importRecords(ctx, dst, r, opt)
	return rep, err
}

func importRecords(ctx context.Context, dst farm.AnimalImporter, r io.Reader, opt Options) (Report, error) {
	var rep Report
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 256<<10)
	next, err := records(br)
	if err != nil {
		return rep, err
	}
	batch := make([]*farm.Animal, 0, opt.Batch)
	lines := make([]int, 0, opt.Batch)
	var read int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		outcomes, err := dst.ImportAnimals(ctx, batch, opt.Mode)
		if err != nil {
			return err
		}
		for i, o := range outcomes {
			switch o {
			case farm.Created:
				rep.Created++
			case farm.Replaced:
				rep.Replaced++
			case farm.Skipped:
				rep.Skipped++
			case farm.Conflicted:
				rep.Stopped = &Rejection{Line: lines[i], ID: batch[i].ID, Reason: "an animal with this id exists (--on-conflict fail)"}
			}
		}
		batch, lines = batch[:0], lines[:0]
		return nil
	}
	for {
		line, raw, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var bad *badRecord
			if errors.As(err, &bad) {
				rep.reject(Rejection{Line: line, Reason: bad.reason})
				continue
			}
			flush()
			return rep, err
		}
		read++
		if opt.Progress != nil && read%1024 == 0 {
			opt.Progress(read, cr.n)
		}
		a, err := validate.DecodeAnimal(raw, opt.Now())
		if err != nil {
			rep.reject(Rejection{Line: line, ID: idOf(raw), Reason: farm.ErrorMessage(err)})
			continue
		}
		batch = append(batch, a)
		lines = append(lines, line)
		if len(batch) == opt.Batch {
			if err := flush(); err != nil {
				return rep, err
			}
			if rep.Stopped != nil {
				return rep, nil
			}
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	if opt.Progress != nil {
		opt.Progress(read, cr.n)
	}
	return rep, nil
}

// idOf digs the id out of a rejected record, for the report, when it is
// there to read.
func idOf(raw []byte) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &v) == nil {
		if s, ok := v.ID.(string); ok && len(s) <= farm.MaxIDLen {
			return s
		}
	}
	return ""
}

// badRecord is a piece of input that is not a record at all (a line too
// long, an array element that is not JSON); the import goes on.
type badRecord struct{ reason string }

func (e *badRecord) Error() string { return e.reason }

// records returns the reader of the input's records: each call gives the
// next one's line (or element) number and bytes, io.EOF at the end.
// NDJSON unless the input starts with '[': then one JSON array.
func records(br *bufio.Reader) (func() (int, []byte, error), error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return func() (int, []byte, error) { return 0, nil, io.EOF }, nil
			}
			return nil, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.ReadByte()
			continue
		case '\xef': // a byte order mark, as some editors write
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
				br.Discard(3)
				continue
			}
		case '[':
			return arrayRecords(br)
		}
		return lineRecords(br), nil
	}
}

func lineRecords(br *bufio.Reader) func() (int, []byte, error) {
	line := 0
	var long []byte
	return func() (int, []byte, error) {
		for {
			chunk, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				// A line longer than the buffer: gather it, up to maxLine.
				long = append(long[:0], chunk...)
				for errors.Is(err, bufio.ErrBufferFull) && len(long) <= maxLine {
					chunk, err = br.ReadSlice('\n')
					long = append(long, chunk...)
				}
				line++
				if len(long) > maxLine {
					for errors.Is(err, bufio.ErrBufferFull) {
						_, err = br.ReadSlice('\n')
					}
					return line, nil, &badRecord{reason: fmt.Sprintf("the line is longer than %d bytes", maxLine)}
				}
				chunk = long
			} else {
				if len(chunk) == 0 && err != nil {
					return line, nil, err
				}
				line++
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return line, nil, err
			}
			if t := bytes.TrimSpace(chunk); len(t) > 0 {
				return line, t, nil
			}
			if err != nil {
				return line, nil, err
			}
		}
	}
}

func arrayRecords(br *bufio.Reader) (func() (int, []byte, error), error) {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil { // [
		return nil, fmt.Errorf("the input is not a JSON array: %w", err)
	}
	n := 0
	done := false
	return func() (int, []byte, error) {
		if done {
			return n, nil, io.EOF
		}
		if !dec.More() {
			done = true
			if _, err := dec.Token(); err != nil { // ]
				return n, nil, fmt.Errorf("the JSON array does not end: %w", err)
			}
			return n, nil, io.EOF
		}
		n++
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// The array's syntax is broken: nothing after this can be read.
			return n, nil, fmt.Errorf("element %d of the JSON array: %w", n, err)
		}
		return n, raw, nil
	}, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
