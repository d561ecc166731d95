package caseweb

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

// orderedService asks its questions neither alphabetically nor required
// first: an optional "zeta", then "alpha", then "mid".
const orderedService = `id: ordered-questions
version: 1
agency: springfield-public-works
jurisdictions: [springfield]
title: {en: Ordered questions, es: Preguntas ordenadas}
summary: {en: A service whose questions come in a chosen order., es: Un servicio con preguntas en un orden elegido.}
category: streets
keywords: {en: [order], es: [orden]}
kind: report-a-problem
maturity: alpha
pages:
  - id: first
    title: {en: First, es: Primera}
    schema:
      type: object
      required: [alpha]
      properties:
        zeta: {type: string}
        alpha: {type: string}
        mid: {type: string}
    fields:
      alpha: {label: {en: Alpha, es: Alfa}, widget: text}
      mid: {label: {en: Mid, es: Medio}, widget: text}
      zeta: {label: {en: Zeta, es: Zeta}, widget: text}
workflow:
  initial: open
  states:
    open: {title: {en: Open, es: Abierta}, sla: 1d}
    done: {title: {en: Done, es: Hecha}, terminal: true}
  transitions:
    - {id: close, from: open, to: done, by: [caseworker], label: {en: Close, es: Cerrar}}
`

// A version that extends the first and keeps its pages.
const orderedServiceV2 = `extend: {service: ordered-questions, version: 1}
id: ordered-questions
version: 2
agency: springfield-public-works
jurisdictions: [springfield]
maturity: beta
`

// TestAnswersInFormOrder: the staff and citizen case pages list a page's
// answers in the order the form asked them, after the manifest has been
// stored (PostgreSQL keeps JSON with its keys sorted) and read back, and
// in a later version that inherits the pages.
func TestAnswersInFormOrder(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
		log := audit.New(db, clock, nil)
		ten, err := tenancy.New(db, log, clock)
		if err != nil {
			t.Fatal(err)
		}
		ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
		if _, err := demo.Seed(ctx, ten); err != nil {
			t.Fatal(err)
		}
		cat, err := catalog.New(db, log, clock, ten)
		if err != nil {
			t.Fatal(err)
		}
		for i, src := range []string{orderedService, orderedServiceV2} {
			if _, err := cat.Publish(ctx, "springfield-public-works", "ordered.yaml", []byte(src)); err != nil {
				t.Fatalf("publish %d: %v", i+1, err)
			}
		}
		answers := map[string]map[string]any{"first": {"alpha": "a", "mid": "m", "zeta": "z"}}
		for _, version := range []int{1, 2} {
			fresh, err := catalog.New(db, log, clock, ten) // a fresh catalog: read from the database
			if err != nil {
				t.Fatal(err)
			}
			rt, err := fresh.Runtime(ctx, "ordered-questions", version)
			if err != nil {
				t.Fatal(err)
			}
			pages := answerPages(i18n.Messages().For(i18n.English, nil), rt, answers)
			if len(pages) != 1 {
				t.Fatalf("version %d: %d pages", version, len(pages))
			}
			var got []string
			for _, f := range pages[0].Fields {
				got = append(got, f.Label)
			}
			if want := []string{"Zeta", "Alpha", "Mid"}; !slices.Equal(got, want) {
				t.Errorf("version %d: answers in the order %v, want %v (the form's)", version, got, want)
			}
		}
	})
}
