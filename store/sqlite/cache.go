package sqlite

import (
	"context"
	"hash/maphash"
	"sync"

	"github.com/farmhq/farm/internal/ringcache"

	"github.com/farmhq/farm"
)

// The record cache: GET /api/v1/animal/{id} is most of what a farm serves,
// and a SQLite read costs it a prepared statement's run and two system
// calls for the WAL's read lock. A record read once is kept, and served as
// long as it is known to be current.
//
// Current means: the cache has applied every change up to the sequence in
// the shared sequence file (seqfile.go), which the writer raises after each
// commit and before answering. A read that finds the file ahead of the
// cache first reads the changes in between from the log and forgets the
// records they touched (one query for however many requests arrive
// meanwhile), or, more than catchUpMax behind (a burst of writes, an
// import batch), forgets every record; a client that got its answer from
// one instance therefore reads its own write through any other. A record
// read from the database is kept only when no change was committed while
// it was read, so a read that raced a write never leaves the older
// version behind.
//
// Once the cache is full, a record read from the database takes another's
// place only on its second read in a while (a doorkeeper, as TinyLFU's):
// reads at random among many more records than the cache holds would
// else each evict a kept record for one not asked for again. At a million
// records read at random that eviction, the copy and the collector's share
// were 3% of an instance's CPU; a record asked for again pays one more
// read of the database to be kept.

type cache struct {
	mu      sync.RWMutex
	kept    *ringcache.Cache // id → the record's other fields, packed (packed.go)
	applied int64            // every change up to here is applied

	// seen: the doorkeeper, one bit a hash of an id read from the database
	// while the cache was full; cleared after a ninth of them are set.
	seen  []uint64
	nSeen int
	seed  maphash.Seed

	catching sync.Mutex // one catch-up at a time; the others read the database
}

// entryBytes is about what a record takes in the cache (4 bytes of
// lengths, the id, the other fields): the doorkeeper's size.
const entryBytes = 64

func newCache(size int, applied int64) (*cache, error) {
	kept, err := ringcache.New(size)
	if err != nil {
		return nil, err
	}
	// Eight bits a record the cache holds: after that many ids, about one
	// bit in nine is set, the chance that an id never read before passes
	// for one that was.
	bits := 64
	for bits < 8*size/entryBytes {
		bits *= 2
	}
	return &cache{kept: kept, applied: applied, seen: make([]uint64, bits/64), seed: maphash.MakeSeed()}, nil
}

// close gives the cache's memory back, once no read uses it.
func (c *cache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kept.Close()
}

// get returns the record when the cache holds it and has applied every
// change up to seq.
func (c *cache) get(id string, seq int64) (*farm.Animal, bool) {
	var buf [256]byte
	c.mu.RLock()
	v, ok := c.kept.Get(buf[:0], id)
	current := c.applied == seq
	c.mu.RUnlock()
	if !ok || !current {
		return nil, false
	}
	a := &farm.Animal{ID: id}
	if !unpack(a, v) {
		return nil, false
	}
	return a, true
}

// put keeps a record read from the database between the sequences before
// and after (the file's, before and after the read): only when they are
// the same, and the cache is at that sequence.
func (c *cache) put(a *farm.Animal, before, after int64) {
	if before != after {
		return
	}
	h := maphash.String(c.seed, a.ID) & uint64(len(c.seen)*64-1)
	var buf [256]byte
	v, ok := pack(buf[:0], a)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.applied != before || c.kept.Has(a.ID) {
		return // a record the cache holds is current: apply forgets changed ones
	}
	if c.kept.Full() {
		if w, bit := h/64, uint64(1)<<(h%64); c.seen[w]&bit == 0 {
			c.seen[w] |= bit // the first read: kept next time
			if c.nSeen++; c.nSeen >= len(c.seen)*64/9 {
				clear(c.seen)
				c.nSeen = 0
			}
			return
		}
		// The second: stored, in place of the oldest records.
	}
	c.kept.Set(a.ID, v)
}

// apply forgets the records that changes touched and moves the cache to
// upTo; a gap (changes no longer in the log) forgets everything.
func (c *cache) apply(cs []change, gap bool, upTo int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gap {
		c.kept.Reset()
	} else {
		for _, ch := range cs {
			c.kept.Del(ch.a.ID)
		}
	}
	c.applied = max(c.applied, upTo)
}

func (c *cache) at() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.applied
}

// cached serves id from the cache, catching the cache up to seq first when
// it lags; false when it cannot (another request is catching up, or the
// log cannot be read): the caller reads the database.
func (s *Store) cached(ctx context.Context, id string, seq int64) (*farm.Animal, bool) {
	c := s.cache
	if a, ok := c.get(id, seq); ok {
		return a, true
	}
	from := c.at()
	if from >= seq {
		return nil, false // current, and not there
	}
	if !c.catching.TryLock() {
		return nil, false
	}
	defer c.catching.Unlock()
	from = c.at()
	switch {
	case from >= seq:
	case seq-from > catchUpMax:
		// Sequences are consecutive: this many changes to read.
		c.apply(nil, true, seq)
		s.writer.log.Debug("sqlite: record cache forgotten, too far behind", "changes", seq-from, "seq", seq)
	default:
		cs, gap, err := s.changesSince(ctx, from, seq)
		if err != nil {
			return nil, false
		}
		c.apply(cs, gap, seq)
		s.writer.log.Debug("sqlite: record cache caught up", "changes", len(cs), "gap", gap, "seq", seq)
	}
	return c.get(id, seq)
}

// catchUpMax is the most changes a catch-up reads; a cache further behind
// (a burst of writes through other instances while this one served no
// reads, a batch of an import) forgets its records instead. Reading
// 20 000 changes took one request 200-270 ms, and slowed every request of
// a one-core instance meanwhile (p99 of GET animal/{id} 27-34 ms against
// 7 ms); a forgotten record costs one read of the database when it is
// asked for again.
const catchUpMax = 1000
