package validate

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/farmhq/farm"
)

// Merge applies a JSON Merge Patch (RFC 7396) to cur and returns the
// checked result; cur is left alone. A member replaces the field of that
// name, null removes it. The id cannot change, and the result must be a
// valid animal, so a patch that removes a required field fails. The patch
// itself is read as strictly as any body: one object, no repeated members.
func Merge(cur *farm.Animal, patch []byte, now time.Time) (*farm.Animal, error) {
	ps, err := object(patch)
	if err != nil {
		return nil, err
	}
	target := members(cur)
	for _, p := range ps {
		if p.name == "id" {
			var id string
			if string(p.value) == "null" || json.Unmarshal(p.value, &id) != nil || id != cur.ID {
				return nil, &farm.Error{Code: farm.EINVALID,
					Message: fmt.Sprintf("invalid patch: id: cannot change (it is %s)", quote(cur.ID)),
					Fields:  []farm.FieldError{{Field: "id", Message: "cannot change"}}}
			}
			continue
		}
		i := slices.IndexFunc(target, func(m member) bool { return m.name == p.name })
		switch {
		case string(p.value) == "null" && i >= 0:
			target = slices.Delete(target, i, i+1)
		case string(p.value) == "null" && fieldRank(p.name) < len(fieldOrder):
			// Removing an absent member is a no-op (RFC 7396). A name
			// that is not a field falls through to be reported: a
			// misspelt removal must not pass silently.
		case i >= 0:
			target[i].value = p.value
		default:
			target = append(target, p)
		}
	}
	return animalFrom(target, now)
}

// members is the object form of a record, the inverse of animalFrom.
func members(a *farm.Animal) []member {
	ms := []member{{"id", mustJSON(a.ID)}, {"species", mustJSON(a.Species)}, {"sex", mustJSON(a.Sex)}}
	if a.Name != "" {
		ms = append(ms, member{"name", mustJSON(a.Name)})
	}
	if a.DOB != "" {
		ms = append(ms, member{"dob", mustJSON(a.DOB)})
	}
	return ms
}
