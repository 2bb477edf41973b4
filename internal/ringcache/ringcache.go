// Package ringcache keeps small values by string key in a fixed amount of
// memory outside Go's heap: the entries one after another in a ring of
// bytes, oldest overwritten first, and an open-addressing table of 8-byte
// slots that finds them.
//
// It exists for the record cache of an instance on a large collection
// (store/sqlite): 40 bytes a packed record and 11 of table, where a Go map
// of records took 200 bytes a record, and fastcache, whose index is a Go
// map, 48 of index. Outside the heap,
// its memory neither is scanned by the collector nor raises the heap goal
// (an instance's heap of 10 MiB would else grow to twice the cache).
//
// A Cache is not safe for concurrent use, but for Get and Has, which may
// run together (under a read lock of the caller's) while nothing else
// does.
package ringcache

import (
	"errors"
	"hash/maphash"
	"syscall"
	"unsafe"
)

// Slots: 0 is empty; tomb a deleted entry's; else the entry's home (the
// slot its key's hash points at, where a search for it starts), then
// posBits bits of one more than its position (the bytes written to the
// ring before it, since it was last emptied). The home both tells a
// search which entries to compare with its key (those of the same home,
// about one a search at half the slots live) and lets the table be
// rebuilt without reading the ring.
const (
	posBits  = 40
	posMask  = 1<<posBits - 1
	tomb     = posMask
	maxSlots = 1 << (64 - posBits)
	hdrBytes = 4 // the key's length, the value's, two bytes each
)

// MaxEntry is the most bytes a key and its value may take together.
const MaxEntry = 1<<16 - 1

// A Cache is a ring of entries and the table that finds them.
type Cache struct {
	ring  []byte // entries: key length, value length, key, value
	slots []uint64
	pos   uint64 // bytes written to the ring since it was emptied
	floor uint64 // entries before it are forgotten (rebuild)
	used  int    // slots not empty (live, stale or deleted entries)
	seed  maphash.Seed
}

// ringPerSlot is the bytes of ring for each slot of the table: at 40
// bytes an entry or more, at most half of the slots are live.
const ringPerSlot = 20

// New maps a cache of size bytes (at least 64 KiB): five sevenths of it
// the ring, the rest the table.
func New(size int) (*Cache, error) {
	if size < 64<<10 {
		return nil, errors.New("ringcache: a cache of less than 64 KiB")
	}
	n := size / (ringPerSlot + 8)
	if n > maxSlots {
		return nil, errors.New("ringcache: a cache of more than 448 MiB")
	}
	ring, err := mmap(n * ringPerSlot)
	if err != nil {
		return nil, err
	}
	table, err := mmap(8 * n)
	if err != nil {
		syscall.Munmap(ring)
		return nil, err
	}
	return &Cache{ring: ring, slots: asSlots(table, n), seed: maphash.MakeSeed()}, nil
}

func mmap(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

// Close gives the memory back. The cache must not be used after.
func (c *Cache) Close() error {
	if c.ring == nil {
		return nil
	}
	err := errors.Join(syscall.Munmap(c.ring), syscall.Munmap(slotBytes(c.slots)))
	c.ring, c.slots = nil, nil
	return err
}

// Size is the bytes of entries the cache holds at most.
func (c *Cache) Size() int { return len(c.ring) }

// Full reports whether the ring has come round once: an entry stored now
// overwrites older ones.
func (c *Cache) Full() bool { return c.pos >= uint64(len(c.ring)) }

// Get appends key's value to dst; false when the cache does not hold key.
func (c *Cache) Get(dst []byte, key string) ([]byte, bool) {
	_, v, ok := c.find(key, maphash.String(c.seed, key))
	if !ok {
		return dst, false
	}
	return append(dst, v...), true
}

// Has reports whether the cache holds key.
func (c *Cache) Has(key string) bool {
	_, _, ok := c.find(key, maphash.String(c.seed, key))
	return ok
}

// find returns the slot of key's entry and its value.
func (c *Cache) find(key string, h uint64) (int, []byte, bool) {
	if c.ring == nil {
		return 0, nil, false
	}
	home := c.home(h)
	for i, n := home, 0; n < len(c.slots); i, n = c.next(i), n+1 {
		s := c.slots[i]
		if s == 0 {
			break
		}
		if v, ok := c.entry(s, home, key); ok {
			return i, v, true
		}
	}
	return 0, nil, false
}

// entry returns the value of slot s's entry when it is key's (its home is
// the key's, it has not been overwritten, its key is key).
func (c *Cache) entry(s uint64, home int, key string) ([]byte, bool) {
	if int(s>>posBits) != home || s&posMask == tomb {
		return nil, false
	}
	p, ok := c.live(s)
	if !ok {
		return nil, false
	}
	e := c.ring[p:]
	kl, vl := int(e[0])<<8|int(e[1]), int(e[2])<<8|int(e[3])
	if string(e[hdrBytes:hdrBytes+kl]) != key {
		return nil, false
	}
	return e[hdrBytes+kl : hdrBytes+kl+vl], true
}

// live returns the offset in the ring of slot s's entry, unless it is
// deleted or overwritten.
func (c *Cache) live(s uint64) (int, bool) {
	if s == 0 || s&posMask == tomb {
		return 0, false
	}
	p := s&posMask - 1
	if p < c.floor || c.pos-p > uint64(len(c.ring)) {
		return 0, false
	}
	return int(p % uint64(len(c.ring))), true
}

// Set stores value under key, in place of the oldest entries once the
// ring is full; an entry of more than MaxEntry bytes, or more than a
// sixteenth of the cache, is not stored.
func (c *Cache) Set(key string, value []byte) {
	need := hdrBytes + len(key) + len(value)
	if c.ring == nil || len(key)+len(value) > MaxEntry || need > len(c.ring)/16 {
		return
	}
	// An entry does not wrap round the ring's end: it starts again at the
	// beginning.
	size := uint64(len(c.ring))
	if off := c.pos % size; off+uint64(need) > size {
		c.pos += size - off
	}
	if c.pos+uint64(need) >= tomb-1 {
		c.Reset() // a trillion bytes written: start again
	}
	h := maphash.String(c.seed, key)
	slot := c.slotFor(key, h)
	off := c.pos % size
	e := c.ring[off : off+uint64(need)]
	e[0], e[1], e[2], e[3] = byte(len(key)>>8), byte(len(key)), byte(len(value)>>8), byte(len(value))
	copy(e[hdrBytes:], key)
	copy(e[hdrBytes+len(key):], value)
	if c.slots[slot] == 0 {
		c.used++
	}
	c.slots[slot] = uint64(c.home(h))<<posBits | (c.pos + 1)
	c.pos += uint64(need)
	if c.used > len(c.slots)/4*3 {
		c.rebuild()
	}
}

// slotFor returns the slot key's entry goes in: its own, or the first on
// its way that is free (deleted, overwritten or empty).
func (c *Cache) slotFor(key string, h uint64) int {
	free, home := -1, c.home(h)
	for i, n := home, 0; n < len(c.slots); i, n = c.next(i), n+1 {
		s := c.slots[i]
		if s == 0 {
			if free < 0 {
				free = i
			}
			break
		}
		if _, ok := c.entry(s, home, key); ok {
			return i
		}
		if _, ok := c.live(s); !ok && free < 0 {
			free = i
		}
	}
	if free < 0 { // every slot taken: cannot be, rebuild keeps a quarter free
		c.Reset()
		return c.home(h)
	}
	return free
}

// Del forgets key.
func (c *Cache) Del(key string) {
	if i, _, ok := c.find(key, maphash.String(c.seed, key)); ok {
		c.slots[i] = tomb
	}
}

// Reset forgets every entry.
func (c *Cache) Reset() {
	clear(c.slots)
	c.pos, c.floor, c.used = 0, 0, 0
}

// rebuild empties the slots of deleted and overwritten entries, which
// would else fill the table, and moves each live one to the first free
// slot from its home, where a search finds it. While more than half of
// the slots are live (entries of less than 40 bytes), it forgets the
// older half of them first. In place, from the slots alone: about 20 ms
// for farm's 1.4 million slots (BenchmarkRebuild), under the caller's
// lock.
func (c *Cache) rebuild() {
	for c.count() > len(c.slots)/2 {
		lo := c.floor
		if size := uint64(len(c.ring)); c.pos > size && c.pos-size > lo {
			lo = c.pos - size
		}
		c.floor = lo + (c.pos-lo)/2
	}
	empty := -1 // one that was empty before: there are, a quarter at least
	for i, s := range c.slots {
		if s == 0 {
			empty = i
		} else if _, ok := c.live(s); !ok {
			c.slots[i] = 0
		}
	}
	// From the slot after one that was empty, round the table: no search
	// for a live entry crossed that slot (a deleted or overwritten entry's
	// it may have), so each one's home is between it and the entry, and
	// the first free slot from its home is at most where it is now; those
	// moved before it are not moved again.
	c.used = 0
	for i, n := c.next(empty), 0; n < len(c.slots); i, n = c.next(i), n+1 {
		s := c.slots[i]
		if s == 0 {
			continue
		}
		c.slots[i] = 0
		j := int(s >> posBits)
		for c.slots[j] != 0 {
			j = c.next(j)
		}
		c.slots[j] = s
		c.used++
	}
}

// home is the first slot a key of hash h may be in: its low 32 bits
// scaled to the table.
func (c *Cache) home(h uint64) int { return int(uint64(uint32(h)) * uint64(len(c.slots)) >> 32) }

// next is the slot after i, round the table.
func (c *Cache) next(i int) int {
	if i++; i == len(c.slots) {
		return 0
	}
	return i
}

// count returns how many entries are live.
func (c *Cache) count() int {
	n := 0
	for _, s := range c.slots {
		if s != 0 {
			if _, ok := c.live(s); ok {
				n++
			}
		}
	}
	return n
}

// asSlots and slotBytes view the table's mapping as slots and back.
func asSlots(b []byte, n int) []uint64 { return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), n) }

func slotBytes(s []uint64) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 8*len(s)) }
