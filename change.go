package farm

import "context"

// The kinds of change.
const (
	ChangeCreated = "created"
	ChangeUpdated = "updated"
	ChangeDeleted = "deleted"
)

// Change is one committed create, update or delete, as the change feed
// (GET /api/v1/_changes) tells it: Seq is strictly increasing in commit
// order and never reused.
type Change struct {
	Seq  int64  `json:"seq"`
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Rev and Animal: the record as created or updated, and its revision
	// (the ETag); none for a deletion.
	Rev    string  `json:"rev,omitempty"`
	Animal *Animal `json:"animal,omitempty"`

	// Fields place the record in listings (species, sex, name, dob): as
	// created or updated, or as it was when deleted. Before is, for an
	// update that changed them, what they were: a feed filtered on cows
	// hears of the cow that became a chicken.
	Fields *Animal `json:"-"`
	Before *Animal `json:"-"`
}

// Matches tells whether the change concerns a listing filtered by f: the
// record matches f after the change, or did before it.
func (c *Change) Matches(f AnimalFilter) bool {
	match := func(a *Animal) bool {
		return a != nil && (f.Species == "" || a.Species == f.Species) && (f.Sex == "" || a.Sex == f.Sex) &&
			(f.Name == "" || a.Name == f.Name) && (f.DOB == "" || a.DOB == f.DOB)
	}
	// A deletion whose fields the store does not keep (CouchDB) may
	// concern any listing.
	return f == (AnimalFilter{}) || match(c.Fields) || match(c.Before) || c.Kind == ChangeDeleted && c.Fields == nil
}

// ChangeFeed is a store that keeps its committed changes, in order, for a
// span (a count of changes, say), and tells them to anyone who asks,
// whichever process committed them.
type ChangeFeed interface {
	// Changes returns at most limit changes after the sequence since, in
	// order. A since older than what the store keeps is EGONE: the client
	// lists the records again and follows from the last sequence.
	Changes(ctx context.Context, since int64, limit int) ([]Change, error)
	// LastSeq is the sequence of the last committed change, 0 before any.
	// It is cheap: the feed asks it many times a second.
	LastSeq(ctx context.Context) (int64, error)
}
