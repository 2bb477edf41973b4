package ringcache

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

func newCache(t testing.TB, size int) *Cache {
	t.Helper()
	c, err := New(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func get(c *Cache, key string) (string, bool) {
	v, ok := c.Get(nil, key)
	return string(v), ok
}

func TestSetGetDel(t *testing.T) {
	c := newCache(t, 64<<10)
	c.Set("a", []byte("cow\x00female"))
	c.Set("b", nil)
	c.Set("a", []byte("cow\x1fmale")) // in place of the first
	if v, ok := get(c, "a"); !ok || v != "cow\x1fmale" {
		t.Fatalf("a: %q, %v", v, ok)
	}
	if v, ok := get(c, "b"); !ok || v != "" {
		t.Fatalf("b: %q, %v", v, ok)
	}
	if c.used != 2 {
		t.Fatalf("%d slots used for two keys", c.used)
	}
	if _, ok := get(c, "c"); ok || c.Has("c") {
		t.Fatal("found a key never stored")
	}
	c.Del("a")
	if c.Has("a") || !c.Has("b") {
		t.Fatal("Del forgot the wrong key")
	}
	c.Set("a", []byte("sheep"))
	if v, _ := get(c, "a"); v != "sheep" {
		t.Fatalf("a stored again after Del: %q", v)
	}
	c.Reset()
	if c.Has("a") || c.Has("b") || c.Full() {
		t.Fatal("Reset kept entries")
	}
	dst := []byte("x")
	if got, ok := c.Get(dst, "a"); ok || string(got) != "x" {
		t.Fatalf("a miss changed dst: %q", got)
	}
}

func TestTooBig(t *testing.T) {
	c := newCache(t, 64<<10)
	c.Set("big", make([]byte, 64<<10/16))
	if c.Has("big") {
		t.Fatal("kept an entry of more than a sixteenth of the cache")
	}
	if _, err := New(1 << 10); err == nil {
		t.Fatal("a 1 KiB cache was made")
	}
}

// Against a map, under random sets, deletes and gets of keys and values of
// random lengths: a Get returns the value last stored or nothing, and
// every entry stored within the last size-MaxEntry bytes written is there
// unless deleted since. The ring comes round hundreds of times, and the
// table is rebuilt as deleted and overwritten entries fill it.
func TestAgainstAMap(t *testing.T) {
	const size = 256 << 10
	c := newCache(t, size)
	r := rand.New(rand.NewPCG(1, 2))
	type stored struct {
		v   string
		end uint64 // c.pos after it was stored
	}
	m := map[string]stored{}
	rebuilt := 0
	for i := range 400_000 {
		key := fmt.Sprint("k", r.IntN(20_000))
		switch op := r.IntN(10); {
		case op < 6:
			v := make([]byte, r.IntN(200))
			for j := range v {
				v[j] = byte(r.Uint32())
			}
			before := c.used
			c.Set(key, v)
			if c.used < before {
				rebuilt++
			}
			m[key] = stored{string(v), c.pos}
		case op < 7:
			c.Del(key)
			delete(m, key)
		default:
			got, ok := get(c, key)
			want, in := m[key]
			switch {
			case ok && (!in || got != want.v):
				t.Fatalf("op %d: %s is %q, want %q (stored: %v)", i, key, got, want.v, in)
			case !ok && in && c.pos-want.end < uint64(c.Size())-256:
				t.Fatalf("op %d: %s, stored %d bytes ago, is gone", i, key, c.pos-want.end)
			}
		}
	}
	if !c.Full() || rebuilt == 0 {
		t.Fatalf("the ring came round: %v; table rebuilt %d times", c.Full(), rebuilt)
	}
}

func BenchmarkGet(b *testing.B) {
	c := newCache(b, 32<<20)
	keys := make([]string, 200_000)
	v := []byte("chicken\x1ffemale\x1f2022-11-03\x1f1-0123456789abcdef\x1fname-616")
	for i := range keys {
		keys[i] = fmt.Sprintf("%07d-%07d", i*7919%1_000_000, i)
		c.Set(keys[i], v)
	}
	var buf [256]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, ok := c.Get(buf[:0], keys[i%len(keys)]); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkSet(b *testing.B) {
	c := newCache(b, 32<<20)
	v := []byte("chicken\x1ffemale\x1f2022-11-03\x1f1-0123456789abcdef\x1fname-616")
	keys := make([]string, 1_000_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%07d-%07d", i*7919%1_000_000, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c.Set(keys[i%len(keys)], v)
	}
}

// Entries too small for the table (more of them than half its slots):
// the older half is forgotten at each rebuild, the newest kept.
func TestSmallEntries(t *testing.T) {
	c := newCache(t, 64<<10) // 2340 slots, a ring for up to 4 700 entries of 10 bytes
	const n = 100_000
	for i := range n {
		c.Set(fmt.Sprint(i), nil)
	}
	for i := n - 500; i < n; i++ {
		if !c.Has(fmt.Sprint(i)) {
			t.Fatalf("%d, of the newest 500, is gone", i)
		}
	}
	if c.used > len(c.slots)/4*3 {
		t.Fatalf("%d of %d slots used", c.used, len(c.slots))
	}
}

// BenchmarkRebuild is the pause a rebuild makes (under the caller's lock)
// in a cache of farm's default size, full of records of 40 bytes.
func BenchmarkRebuild(b *testing.B) {
	c := newCache(b, 40<<20)
	v := make([]byte, 21)
	for i := 0; !c.Full(); i++ {
		c.Set(fmt.Sprintf("%07d-%07d", i*7919%1_000_000, i), v)
	}
	b.ResetTimer()
	for range b.N {
		c.rebuild()
	}
	b.ReportMetric(float64(c.count()), "entries")
}

// keyWithHome finds a key, not in taken, whose search starts at slot home.
func keyWithHome(c *Cache, home int, taken map[string]bool) string {
	for i := 0; ; i++ {
		k := fmt.Sprint("id-", i)
		if !taken[k] && c.home(maphash.String(c.seed, k)) == home {
			taken[k] = true
			return k
		}
	}
}

// checkTable fails unless a search for each live entry's key finds it in
// its own slot, and no key has two live entries.
func checkTable(t *testing.T, c *Cache) {
	t.Helper()
	keys := map[string]int{}
	for i, s := range c.slots {
		p, ok := c.live(s)
		if !ok {
			continue
		}
		e := c.ring[p:]
		key := string(e[hdrBytes : hdrBytes+(int(e[0])<<8|int(e[1]))])
		if j, dup := keys[key]; dup {
			t.Fatalf("%q has two live entries, slots %d and %d", key, j, i)
		}
		keys[key] = i
		if j, _, found := c.find(key, maphash.String(c.seed, key)); !found || j != i {
			t.Fatalf("%q, in slot %d, is not found there (found: %v, slot %d)", key, i, found, j)
		}
	}
}

// A rebuild starts from a slot that was empty: from one that a deleted
// entry freed, entries whose searches went through it were lost (and came
// back stale from a later rebuild, once deleted). Homes at the table's
// end, so that searches wrap round.
func TestRebuildAroundDeleted(t *testing.T) {
	c := newCache(t, 64<<10)
	n := len(c.slots)
	taken := map[string]bool{}
	x, a := keyWithHome(c, n-3, taken), keyWithHome(c, n-3, taken)
	y, b := keyWithHome(c, n-1, taken), keyWithHome(c, n-1, taken)
	k := keyWithHome(c, n-2, taken)
	for _, key := range []string{x, a, y, b, k} {
		c.Set(key, []byte("v1"))
	}
	c.Del(x)
	c.Del(y)
	c.rebuild()
	checkTable(t, c)
	for _, key := range []string{a, b, k} {
		if !c.Has(key) {
			t.Fatalf("%s lost by a rebuild", key)
		}
	}
	c.Set(k, []byte("v2"))
	c.Del(k)
	c.rebuild()
	if v, ok := get(c, k); ok {
		t.Fatalf("%s, deleted, came back as %q", k, v)
	}
}

// Records of farm's size, sets and deletes at random, the table checked
// after every rebuild, and every Get against a map.
func TestRebuildsUnderLoad(t *testing.T) {
	for seed := range uint64(8) {
		c := newCache(t, 1<<20)
		r := rand.New(rand.NewPCG(seed, 7))
		m := map[string]string{}
		rebuilds := 0
		for i := range 200_000 {
			key := fmt.Sprintf("%07d-%07d", r.IntN(40_000), 0)
			switch op := r.IntN(10); {
			case op < 7:
				v := fmt.Sprintf("%08d%013d", i, 0) // 21 bytes: 40 with the key and lengths
				before := c.used
				c.Set(key, []byte(v))
				m[key] = v
				if c.used < before {
					rebuilds++
					checkTable(t, c)
				}
			case op < 8:
				c.Del(key)
				delete(m, key)
			default:
				if got, ok := get(c, key); ok && got != m[key] {
					t.Fatalf("seed %d, op %d: %s is %q, want %q", seed, i, key, got, m[key])
				}
			}
		}
		if rebuilds == 0 {
			t.Fatalf("seed %d: no rebuild", seed)
		}
	}
}
