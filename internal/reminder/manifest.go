package reminder

import (
	"fmt"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// FromManifest turns reminder id of a published service manifest into an
// obligation for a citizen, ready for Set. It fills Kind, Title, Due and
// Schedule and AgencyID; the caller adds AccountID, URL and its Source (for
// example "case:ID/reminder:" + id, so setting it again is idempotent).
//
//   - {before: N, document: D}: the obligation is due when document D
//     expires (issued + D's valid_for); one reminder N before that day.
//     issued is when the document was issued; it must be set.
//   - {after: N}: due N after setAt; one reminder on that day.
//
// The reminder's message becomes the obligation's title. Dates are taken
// in the location of issued and setAt.
func FromManifest(m *manifest.Manifest, id string, issued, setAt time.Time) (Obligation, error) {
	r, ok := m.Reminders[id]
	if !ok {
		return Obligation{}, fmt.Errorf("reminder: %s@%d has no reminder %q", m.ID, m.Version, id)
	}
	o := Obligation{AgencyID: m.Agency, Title: Text{EN: r.Message.EN, ES: r.Message.ES}}
	switch {
	case r.Before != "":
		doc, ok := m.Documents[r.Document]
		if !ok || doc.ValidFor == "" {
			return o, fmt.Errorf("reminder: %s@%d reminder %q: document %q has no validity", m.ID, m.Version, id, r.Document)
		}
		if issued.IsZero() {
			return o, fmt.Errorf("reminder: %s@%d reminder %q: no issue time for document %q", m.ID, m.Version, id, r.Document)
		}
		valid, err := manifest.ParseDuration(doc.ValidFor)
		if err != nil {
			return o, err
		}
		before, err := manifest.ParseDuration(r.Before)
		if err != nil {
			return o, err
		}
		o.Kind = KindRenewal
		o.Due = DateOf(issued.Add(valid))
		o.Schedule = Schedule{-before.Truncate(time.Minute)}
	case r.After != "":
		after, err := manifest.ParseDuration(r.After)
		if err != nil {
			return o, err
		}
		o.Kind = KindAction
		o.Due = DateOf(setAt.Add(after))
		o.Schedule = Schedule{0}
	default:
		return o, fmt.Errorf("reminder: %s@%d reminder %q has neither before nor after", m.ID, m.Version, id)
	}
	return o, nil
}
