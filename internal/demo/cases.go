package demo

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
)

// DemoCase is an application a demo citizen submitted some time ago and
// what the agency's staff did with it since, so that a fresh demo has
// work in its queues: answers typed page by page as the form posts them,
// files attached, the application submitted through the applying block
// (which opens the case), then each step taken by a named member of staff
// through the casework block.
type DemoCase struct {
	Email   string
	Service string
	Ago     time.Duration // when the application was submitted, before the seeding
	Pages   []DemoPage
	Steps   []DemoStep
}

// DemoPage is one form page as posted; Files are attached to the draft
// first and their ids posted in their fields.
type DemoPage struct {
	ID    string
	Form  url.Values
	Files map[string]string // field → file name (a small PDF)
}

// DemoStep is what a member of staff did on the case, After the
// submission.
type DemoStep struct {
	By     string // staff email
	After  time.Duration
	Assign bool   // take the case (assign it to themselves)
	Note   string // an internal note
	Tell   string // a message to the applicant
	Paid   int64  // a payment recorded at the counter, in cents
	Ref    string // its receipt number
	Take   string // a workflow transition
}

// Cases are the demo's cases:
//   - Ana's dog licence at the Adams County Clerk, taken by Eli Clerk,
//     waiting for its fee (Fay Finance records it at the counter);
//   - Beto's vehicle registration renewal at the DMV, taken by Casey
//     Caseworker and past its two-day time limit;
//   - Ana's voter registration at the Adams County Clerk after a move,
//     just in;
//   - Ana's vehicle registration renewal at the DMV, paid at the counter
//     (receipt number recorded by Dana Administrator) and renewed by Casey.
var Cases = []DemoCase{
	{Email: "ana.citizen@example.com", Service: "adams-dog-licence", Ago: 2*24*time.Hour + 3*time.Hour,
		Pages: []DemoPage{
			{ID: "dog", Form: url.Values{"name": {"Biscuit"}, "sex": {"female"}, "neutered": {"yes"},
				"born-month": {"6"}, "born-day": {"14"}, "born-year": {"2022"}}},
			{ID: "rabies", Form: url.Values{"expires-month": {"9"}, "expires-day": {"30"}, "expires-year": {"2027"}},
				Files: map[string]string{"certificate": "rabies-certificate-biscuit.pdf"}},
		},
		Steps: []DemoStep{
			{By: "eli.clerk@example.gov", After: 20 * time.Hour, Assign: true},
			{By: "eli.clerk@example.gov", After: 20*time.Hour + 5*time.Minute,
				Note: "Rabies certificate checked with Springfield Animal Clinic: valid until September 30, 2027. Ready to license once the fee is paid."},
		}},
	{Email: "beto.ciudadano@example.com", Service: "vehicle-registration-renewal", Ago: 4*24*time.Hour + 2*time.Hour,
		Pages: []DemoPage{
			{ID: "vehicle", Form: url.Values{"plate": {"EX 7MB-904"}, "type": {"truck"}}},
			{ID: "details", Form: url.Values{"make": {"Ford"}, "model": {"Fusion"}, "year": {"2016"}}},
			{ID: "insurance", Form: url.Values{"insurer": {"Seguros del Lago"}, "policy": {"SL-558120"}}},
		},
		Steps: []DemoStep{
			{By: "casey.dmv@example.gov", After: 26 * time.Hour, Assign: true},
			{By: "casey.dmv@example.gov", After: 26*time.Hour + 10*time.Minute,
				Note: "The insurer's lookup does not find policy SL-558120. Called Seguros del Lago; waiting for them to call back."},
		}},
	{Email: "ana.citizen@example.com", Service: "adams-voter-registration", Ago: 5 * time.Hour,
		Pages: []DemoPage{
			{ID: "voter", Form: url.Values{"reason": {"moved"}, "citizen": {"yes"},
				"address-street": {"418 Oak Avenue, Springfield"}, "address-zip": {"70114"},
				"previous_address": {"22 Birch Lane, Lakeside"}}},
		}},
	{Email: "ana.citizen@example.com", Service: "vehicle-registration-renewal", Ago: 10 * 24 * time.Hour,
		Pages: []DemoPage{
			{ID: "vehicle", Form: url.Values{"plate": {"EX 4KQ-218"}, "type": {"car"}}},
			{ID: "details", Form: url.Values{"make": {"Honda"}, "model": {"Civic"}, "year": {"2018"}}},
			{ID: "insurance", Form: url.Values{"insurer": {"Acme Mutual"}, "policy": {"AM-2210947"}}},
		},
		Steps: []DemoStep{
			{By: "dana.dmv-admin@example.gov", After: 22 * time.Hour, Paid: 4500, Ref: "20431"},
			{By: "casey.dmv@example.gov", After: 24 * time.Hour, Assign: true},
			{By: "casey.dmv@example.gov", After: 24*time.Hour + 15*time.Minute, Take: "renew"},
		}},
}

// CaseBlocks is what seeding cases uses: the identity block (the demo
// people), tenancy (where they live) and the applying and casework blocks
// built on Clock (app.DemoBlocks), which the seeding sets to each moment
// of a case's history.
type CaseBlocks struct {
	Identity *identity.Service
	Places   interface {
		ResolveZIP(ctx context.Context, zip string) ([]tenancy.Jurisdiction, error)
	}
	Apply *application.Service
	Cases *casework.Service
	Clock *platform.FakeClock
	Now   time.Time // the real time now: cases are seeded Ago before it
}

// SeedCases submits each demo case that its citizen has not applied for
// yet (a citizen's case for the same service means it was seeded before,
// or the person made one themselves) and returns how many it opened.
func SeedCases(ctx context.Context, b CaseBlocks) (int, error) {
	opened := 0
	for _, dc := range Cases {
		done, err := seedCase(ctx, b, dc)
		if err != nil {
			return opened, fmt.Errorf("demo: case %s for %s: %w", dc.Service, dc.Email, err)
		}
		if done {
			opened++
		}
	}
	return opened, nil
}

func seedCase(ctx context.Context, b CaseBlocks, dc DemoCase) (bool, error) {
	acct, err := b.Identity.AccountByEmail(ctx, dc.Email)
	if err != nil {
		return false, err
	}
	existing, err := b.Cases.ForAccount(ctx, acct.ID)
	if err != nil {
		return false, err
	}
	for _, c := range existing {
		if c.ServiceID == dc.Service {
			return false, nil
		}
	}
	at := b.Now.Add(-dc.Ago)
	b.Clock.Set(at.Add(-20 * time.Minute)) // the form takes a while to fill in
	ap := application.Applicant{AccountID: acct.ID, Email: acct.Email, Lang: acct.Lang, LegalName: acct.LegalName,
		DateOfBirth: acct.DateOfBirth, Phone: acct.Phone, Residential: application.Address(acct.Residential), Mailing: application.Address(acct.Mailing)}
	if acct.Residential.ZIP != "" {
		js, err := b.Places.ResolveZIP(ctx, acct.Residential.ZIP)
		if err != nil {
			return false, err
		}
		for _, j := range js {
			ap.Jurisdictions = append(ap.Jurisdictions, j.ID)
		}
	}
	citizen := platform.WithActor(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: acct.ID})
	draft, err := b.Apply.Start(citizen, ap, dc.Service)
	if err != nil {
		return false, err
	}
	for _, pg := range dc.Pages {
		form := url.Values{}
		for k, v := range pg.Form {
			form[k] = v
		}
		for field, name := range pg.Files {
			pdf := "%PDF-1.7\n% " + name + "\n"
			att, prob, err := b.Apply.Attach(citizen, acct.ID, draft.ID, pg.ID, field,
				application.Upload{Filename: name, Size: int64(len(pdf)), Content: strings.NewReader(pdf)})
			if err != nil {
				return false, err
			}
			if prob != nil {
				return false, fmt.Errorf("attach %s: %v", name, prob)
			}
			form.Set(field, att.ID)
		}
		res, err := b.Apply.SavePage(citizen, ap, draft.ID, pg.ID, form)
		if err != nil {
			return false, err
		}
		if len(res.Problems) > 0 {
			return false, fmt.Errorf("page %s: %v", pg.ID, res.Problems)
		}
		draft = res.App
	}
	b.Clock.Set(at)
	app, err := b.Apply.Submit(citizen, ap, draft.ID, draft.Revision)
	if err != nil {
		return false, err
	}
	for i, st := range dc.Steps {
		staff, err := b.Identity.AccountByEmail(ctx, st.By)
		if err != nil {
			return false, err
		}
		b.Clock.Set(at.Add(st.After))
		actor := staff.Actor()
		switch {
		case st.Assign:
			_, err = b.Cases.Assign(ctx, actor, app.ID, staff.ID)
		case st.Note != "":
			_, err = b.Cases.Note(ctx, actor, app.ID, st.Note)
		case st.Tell != "":
			_, err = b.Cases.Message(ctx, actor, app.ID, st.Tell)
		case st.Paid > 0:
			_, err = b.Cases.RecordPayment(ctx, actor, app.ID, st.Paid, st.Ref)
		case st.Take != "":
			_, err = b.Cases.Take(ctx, actor, app.ID, st.Take)
		default:
			err = fmt.Errorf("step %s does nothing", strconv.Itoa(i))
		}
		if err != nil {
			return false, fmt.Errorf("step %d by %s: %w", i, st.By, err)
		}
	}
	return true, nil
}
