package app

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"gocloud.dev/blob"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/catalogweb"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/report"
	"github.com/portico-gov/portico/internal/report/open311api"
	"github.com/portico-gov/portico/internal/report/reportweb"
	"github.com/portico-gov/portico/internal/tenancy"
)

// newReports opens the attachments bucket for report photos (keys under
// reports/) and builds the report block (a.Notify and a.Tenancy must
// exist).
func (a *App) newReports(ctx context.Context) error {
	b, err := blob.OpenBucket(ctx, a.Config.Attachments)
	if err != nil {
		return fmt.Errorf("app: report photos: %w", err)
	}
	a.reportPhotos = b
	a.Reports, err = report.New(report.Config{DB: a.DB, Audit: a.Audit, Bus: a.Bus, Clock: a.Clock, Mailer: reportMailer{a.Notify}, Photos: b,
		Agencies: reportAgencies{a.Tenancy}, PublicURL: func() string { return a.Config.PublicURL }, Zone: a.Tenancy.Zone})
	return err
}

// registerReports adds the report pages and the Open311 endpoint.
func (a *App) registerReports(idw *identityweb.Handlers) error {
	if err := reportweb.Register(a.Web, a.Reports, idw, reportweb.Map{Tiles: a.Config.MapTiles, Attribution: a.Config.MapAttribution}); err != nil {
		return err
	}
	api, err := open311api.New(a.Reports, open311api.Config{PublicURL: func() string { return a.Config.PublicURL }, Logger: a.Logger,
		Contact:    "Report problems at " + a.Config.PublicURL + "/report; questions about this endpoint to the agency that runs the service.",
		KeyService: "Agencies issue api_keys in the staff console (Open311 API keys) or with `portico open311 key create`; ask the agency whose services you report to."})
	if err != nil {
		return err
	}
	open311api.Register(a.Web, api)
	return nil
}

// reportMailer sends the report block's emails through notify's outbox.
type reportMailer struct{ n *notify.Service }

func (m reportMailer) SendEmail(ctx context.Context, tx *sql.Tx, msg report.Message) error {
	_, err := m.n.SendEmail(ctx, tx, notify.Email{To: msg.To, Subject: msg.Subject, Text: msg.Text, Lang: msg.Lang, AgencyID: msg.AgencyID, Reference: msg.Reference})
	return err
}

// reportAgencies gives the report block an agency's jurisdiction and name.
type reportAgencies struct{ t *tenancy.Service }

func (r reportAgencies) AgencyPlace(ctx context.Context, id string) (string, string, string, error) {
	ag, err := r.t.Agency(ctx, id)
	if err != nil {
		return "", "", "", err
	}
	return ag.JurisdictionID, ag.Name, ag.NameES, nil
}

// reportMatches lets the catalog's search page find report-a-problem
// services: one matches when a word of the search is among the analysed
// words (catalog.Terms, the catalog's own stemming) of its name,
// keywords, group or description in the page's language. The services
// are few (a table of forms, not of reports), so each search reads them
// all; the best matches (most words) come first.
type reportMatches struct{ r *report.Service }

func (m reportMatches) MatchReports(ctx context.Context, terms []string, lang i18n.Lang) ([]catalogweb.ReportLink, error) {
	svcs, err := m.r.Services(ctx, "")
	if err != nil {
		return nil, err
	}
	type hit struct {
		link  catalogweb.ReportLink
		score int
	}
	var hits []hit
	for _, s := range report.Offered(svcs) {
		name, desc := s.Name, s.Description
		if lang == "es" {
			if s.NameES != "" {
				name = s.NameES
			}
			if s.DescriptionES != "" {
				desc = s.DescriptionES
			}
		}
		words := map[string]bool{}
		for _, t := range catalog.Terms(string(lang), strings.Join(append([]string{name, desc, s.Group}, s.Keywords...), " ")) {
			words[t] = true
		}
		score := 0
		for _, t := range terms {
			if words[t] {
				score++
			}
		}
		if score > 0 {
			hits = append(hits, hit{catalogweb.ReportLink{Name: name, Description: desc, URL: "/report/" + s.Slug}, score})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return b.score - a.score })
	out := make([]catalogweb.ReportLink, len(hits))
	for i, h := range hits {
		out[i] = h.link
	}
	return out, nil
}
