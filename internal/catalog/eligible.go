package catalog

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
)

// Unmet returns what the person does not meet of p's eligibility, in the
// manifest's order (empty: they may use it). A requirement that needs a
// fact the profile lacks (the date of birth, the home address) is
// returned Undecided, so the page can ask for the fact rather than say
// "no".
func (s *Service) Unmet(p Published, prof Profile, now time.Time) ([]manifest.Unmet, error) {
	rt, err := s.runtimes.get(p)
	if err != nil {
		return nil, err
	}
	return rt.Unmet(prof.Person, now, unknownFacts(prof)...), nil
}

func unknownFacts(prof Profile) []string {
	var unknown []string
	if !prof.AgeKnown {
		unknown = append(unknown, "age")
	}
	if !prof.ResidenceKnown {
		unknown = append(unknown, "residence")
	}
	return unknown
}

// Explain says one requirement given as part of a plain expression in
// plain terms, when it has a shape that can be said honestly
// (ReasonRules otherwise). A requirement with the manifest's own reason
// needs no explaining.
func Explain(q manifest.Requirement) Reason { return explain(q.Expr) }

// SamePurpose reports whether two services do the same thing for
// different people: one reuses the other (extend), both reuse the same
// base, or they share a category and a kind of transaction.
func SamePurpose(a, b *manifest.Manifest, aID, bID string) bool {
	base := func(m *manifest.Manifest, id string) string {
		if m.Extend != nil {
			return m.Extend.Service
		}
		return id
	}
	if base(a, aID) == base(b, bID) {
		return true
	}
	return a.Category == b.Category && a.Kind == b.Kind
}

// Alternatives returns the services of the same purpose as p (SamePurpose)
// that are offered where the person lives and whose eligibility they meet,
// in title order (in lang): where to send someone who cannot use p. It
// reads only the services offered in the person's jurisdictions; with no
// known home there are none.
func (s *Service) Alternatives(ctx context.Context, p Published, prof Profile, lang string, now time.Time) ([]Published, error) {
	if !prof.ResidenceKnown {
		return nil, nil
	}
	ps, err := s.offeredIn(ctx, prof.Person.Residence.Jurisdictions)
	if err != nil {
		return nil, err
	}
	var out []Published
	for _, q := range ps {
		if q.ID == p.ID || !SamePurpose(p.Manifest, q.Manifest, p.ID, q.ID) {
			continue
		}
		m, ok, err := s.match(q, prof, now)
		if err != nil {
			return nil, err
		}
		if ok && len(m.Needs) == 0 {
			out = append(out, q)
		}
	}
	slices.SortStableFunc(out, func(a, b Published) int {
		ta, tb := a.Manifest.Title.EN, b.Manifest.Title.EN
		if lang == Spanish {
			ta, tb = a.Manifest.Title.ES, b.Manifest.Title.ES
		}
		if c := strings.Compare(sortKey(ta), sortKey(tb)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
