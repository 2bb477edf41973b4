package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/farmhq/farm"
)

// Counting any filter without scanning what it matches: the table tally
// holds, for every record, one count under each of the keys
//
//	species sex, species sex name, species sex dob
//
// (the last two when the record has the fields), kept in the write's
// transaction. A filter fixes any of the four fields; its count is the sum
// over the (at most four) combinations of species and sex it leaves open
// of the key of the fields it fixes. So a count costs at most four index
// lookups, whatever the collection's size, and a write updates at most
// three rows.
//
// A filter on both name and dob is counted from its index instead: a key
// for every name and date pair would be a row for nearly every record, and
// cost every write a fourth update, while the records of one name born on
// one day are few; counting them steps over just those index entries.

// sep separates the parts of a key: a control character, which no field
// may hold.
const sep = "\x1f"

// tallyKey is the key of species, sex and the optional name and dob ("":
// not part of the key).
func tallyKey(species, sex, name, dob string) string {
	var b strings.Builder
	b.Grow(len(species) + len(sex) + len(name) + len(dob) + 6)
	b.WriteString(species)
	b.WriteString(sep)
	b.WriteString(sex)
	if name != "" {
		b.WriteString(sep + "n")
		b.WriteString(name)
	}
	if dob != "" {
		b.WriteString(sep + "d")
		b.WriteString(dob)
	}
	return b.String()
}

// tallyKeys are the keys a record counts under.
func tallyKeys(a *farm.Animal) []string {
	keys := make([]string, 1, 4)
	keys[0] = tallyKey(a.Species, a.Sex, "", "")
	if a.Name != "" {
		keys = append(keys, tallyKey(a.Species, a.Sex, a.Name, ""))
	}
	if a.DOB != "" {
		keys = append(keys, tallyKey(a.Species, a.Sex, "", a.DOB))
	}
	return keys
}

var (
	allSpecies = []string{farm.SpeciesChicken, farm.SpeciesCow}
	allSexes   = []string{farm.SexFemale, farm.SexMale}
)

// kinds are the (species, sex) pairs a filter covers, in a fixed order.
func kinds(f farm.AnimalFilter) [][2]string {
	species, sexes := allSpecies, allSexes
	if f.Species != "" {
		species = []string{f.Species}
	}
	if f.Sex != "" {
		sexes = []string{f.Sex}
	}
	out := make([][2]string, 0, 4)
	for _, sp := range species {
		for _, sx := range sexes {
			out = append(out, [2]string{sp, sx})
		}
	}
	return out
}

// countKeys are the keys whose counts add up to the number of records f
// matches.
func countKeys(f farm.AnimalFilter) []any {
	ks := kinds(f)
	keys := make([]any, len(ks))
	for i, k := range ks {
		keys[i] = tallyKey(k[0], k[1], f.Name, f.DOB)
	}
	return keys
}

// countQueries are the counting statements by the number of keys.
var countQueries = [...]string{
	1: "SELECT coalesce(sum(n), 0) FROM tally WHERE key = ?",
	2: "SELECT coalesce(sum(n), 0) FROM tally WHERE key IN (?, ?)",
	4: "SELECT coalesce(sum(n), 0) FROM tally WHERE key IN (?, ?, ?, ?)",
}

// countByIndex counts the records of one (species, sex) pair with a name
// and a dob, on their index.
const countByIndex = "SELECT count(*) FROM animal INDEXED BY animal_by_name_dob WHERE species = ? AND sex = ? AND name = ? AND dob = ?"

// count returns the number of records f matches, in the read transaction
// tx.
func (s *Store) count(ctx context.Context, tx *sql.Tx, f farm.AnimalFilter) (int, error) {
	if f.Name != "" && f.DOB != "" {
		st, err := s.stmts.inTx(ctx, tx, countByIndex)
		if err != nil {
			return 0, err
		}
		defer st.Close()
		total := 0
		for _, k := range kinds(f) {
			var n int
			if err := st.QueryRowContext(ctx, k[0], k[1], f.Name, f.DOB).Scan(&n); err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	}
	keys := countKeys(f)
	st, err := s.stmts.inTx(ctx, tx, countQueries[len(keys)])
	if err != nil {
		return 0, err
	}
	defer st.Close()
	var n int
	err = st.QueryRowContext(ctx, keys...).Scan(&n)
	return n, err
}

// tallyDelta is what a write does to the counts: +1 for each key of the
// new record, -1 for each of the old one, the keys that both have left
// out.
func tallyDelta(old, next *farm.Animal) map[string]int {
	d := map[string]int{}
	if old != nil {
		for _, k := range tallyKeys(old) {
			d[k]--
		}
	}
	if next != nil {
		for _, k := range tallyKeys(next) {
			d[k]++
		}
	}
	for k, n := range d {
		if n == 0 {
			delete(d, k)
		}
	}
	return d
}

// rebuildTally counts every record again (after an upgrade, or to check
// the counts in tests).
func rebuildTally(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM tally"); err != nil {
		return err
	}
	for _, q := range []string{
		"INSERT INTO tally (key, n) SELECT species || char(31) || sex, count(*) FROM animal GROUP BY 1",
		"INSERT INTO tally (key, n) SELECT species || char(31) || sex || char(31) || 'n' || name, count(*) FROM animal WHERE name IS NOT NULL GROUP BY 1",
		"INSERT INTO tally (key, n) SELECT species || char(31) || sex || char(31) || 'd' || dob, count(*) FROM animal WHERE dob IS NOT NULL GROUP BY 1",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
