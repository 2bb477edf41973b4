package validate

import (
	"time"

	"github.com/farmhq/farm"
)

// Merge applies a JSON Merge Patch (RFC 7396) to cur and returns the
// checked result; cur is left alone. A member replaces the field of that
// name, null removes it. The id cannot change, and the result must be a
// valid animal, so a patch that removes a required field fails. The patch
// itself is read as strictly as any body: one object, no repeated members,
// and no member that is not a field (a misspelt removal must not pass
// silently).
func Merge(cur *farm.Animal, patch []byte, now time.Time) (*farm.Animal, error) {
	p, err := readObject(patch)
	if err != nil {
		return nil, err
	}
	if id := p.fields[0]; id != nil && (id[0] != '"' || unquote(id) != cur.ID) {
		return nil, &farm.Error{Code: farm.EINVALID,
			Message: "invalid patch: id: cannot change (it is " + farm.Quote(cur.ID) + ")",
			Fields:  []farm.FieldError{{Field: "id", Message: "cannot change"}}}
	}
	target := &object{unknown: p.unknown, moreUnknown: p.moreUnknown}
	for r, v := range [...]string{cur.ID, cur.Species, cur.Sex, cur.Name, cur.DOB} {
		switch pv := p.fields[r]; {
		case pv == nil && v != "":
			target.fields[r] = mustJSON(v)
		case pv != nil && string(pv) == "null":
			// Removed; removing an absent member is a no-op (RFC 7396).
		case pv != nil:
			target.fields[r] = pv
		}
	}
	return animalFrom(target, now)
}
