package casework

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// Appointment is what a case's workflow booked for its applicant (a
// call_plugin action's recorded values, named by the manifest's
// appointment): when it starts and, if known, ends, and the place the
// applicant chose, in both languages. A cancelled or rejected case's
// booking is cancelled and its recorded values forgotten, so it has none.
type Appointment struct {
	CaseID    string
	Reference string
	ServiceID string
	Service   manifest.Text // the service's title
	Start     time.Time
	End       time.Time // zero when the plug-in did not say
	Place     manifest.Text
	UpdatedAt time.Time // the case's last change, for calendars' DTSTAMP
}

// Appointment returns c's appointment, nil when its service books none
// or nothing is booked now. Callers authorise.
func (s *Service) Appointment(ctx context.Context, c Case) (*Appointment, error) {
	wf, err := s.Workflow(ctx, c)
	if err != nil {
		return nil, err
	}
	ap := wf.Manifest.Appointment
	if ap == nil {
		return nil, nil
	}
	recorded, err := s.Records(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	start, ok := recordedTime(recorded, ap.StartsAt)
	if !ok {
		return nil, nil
	}
	a := &Appointment{CaseID: c.ID, Reference: c.Reference, ServiceID: c.ServiceID, Service: wf.Manifest.Title, Start: start, UpdatedAt: c.UpdatedAt}
	if end, ok := recordedTime(recorded, ap.EndsAt); ok && end.After(start) {
		a.End = end
	}
	if page, prop, ok := strings.Cut(ap.Place, "."); ok {
		answers, err := s.Answers(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		for _, pg := range wf.Manifest.Pages {
			if pg.ID != page {
				continue
			}
			if chosen, ok := answers[page][prop].(string); ok {
				if label, ok := pg.Fields[prop].Options[chosen]; ok {
					a.Place = label
				}
			}
		}
	}
	return a, nil
}

// AppointmentsOf returns the booked appointments of one person's cases
// that start after since, soonest first. Its cost follows the person's
// own cases. Callers authorise (the account is the caller's own, or a
// calendar feed's) and audit.
func (s *Service) AppointmentsOf(ctx context.Context, account string, since time.Time) ([]Appointment, error) {
	cases, err := s.ForAccount(ctx, account)
	if err != nil {
		return nil, err
	}
	var out []Appointment
	for _, c := range cases {
		a, err := s.Appointment(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("casework: appointments of %s: %w", c.ID, err)
		}
		if a != nil && a.Start.After(since) {
			out = append(out, *a)
		}
	}
	slices.SortStableFunc(out, func(a, b Appointment) int { return a.Start.Compare(b.Start) })
	return out, nil
}

func recordedTime(recorded map[string]any, name string) (time.Time, bool) {
	s, ok := recorded[name].(string)
	if name == "" || !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}
