// Package caseweb is the HTTP side of the casework block: the staff case
// queue and case page under /console/cases, and the citizen's page for
// their application's case at /applications/{id}.
//
// Who may see a case is decided by the casework block (CaseFor,
// ViewCase, ViewApplicantCase, QueueFor, ViewFile take the acting
// principal): staff see only cases of the agencies they hold a role in, a
// citizen only their own, anyone else gets 404 so case ids do not leak;
// the block audits every view and every change. These handlers map its
// errors to pages; the roles they still read only decide what a page
// offers (auditors read only).
//
// One file per purpose: caseweb.go registers the routes and holds the
// helpers every page shares; queue.go is the staff queue; staffcase.go
// the staff case page and its changes; citizencase.go the citizen's case
// page and answers; caseview.go what both case pages show (answers,
// payments, documents); timeline.go how timeline entries read; files.go
// the links to and downloads of a case's attachments.
package caseweb

import (
	"context"
	"embed"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/portico-gov/portico/internal/application"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Staff is what the pages need of the identity block.
type Staff interface {
	AgencyMembers(ctx context.Context, agencyID string) ([]identity.AgencyMember, error)
}

// Catalog is what the pages need of the catalog block.
type Catalog interface {
	List(ctx context.Context, agency string) ([]catalog.Published, error)
}

// Files is what the pages need of the applying block: the files uploaded
// with an application. Neither method checks who asks; the pages have
// authorised the case first.
type Files interface {
	Attachments(ctx context.Context, appID string) (map[string]application.Attachment, error)
	Attachment(ctx context.Context, appID, attachmentID string) (application.Attachment, io.ReadCloser, error)
}

// Agencies is what the pages need of the tenancy block: an agency's
// name, which the citizen sees for its staff and its automatic steps.
type Agencies interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
}

// OnlinePayments is what the pages need of the payment block's receipts:
// the case's fees paid online (by the ids of its case_payments), for the
// timelines. The pages have authorised the case first.
type OnlinePayments interface {
	CasePayments(ctx context.Context, casePaymentIDs []string) ([]receipt.Paid, error)
}

// Plugins is what the pages need of the plug-in registry: a plug-in's
// name, for staff ("waiting for Counter appointments").
type Plugins interface {
	Get(ctx context.Context, actor platform.Actor, id string) (*plugin.Plugin, error)
}

// Handlers serves the case pages.
type Handlers struct {
	plugins  Plugins
	web      *web.Server
	cases    *casework.Service
	staff    Staff
	cat      Catalog
	files    Files
	agencies Agencies
	paid     OnlinePayments
}

// Register adds the case pages to s. paid may be nil: the timelines then
// show no online payments; plugins may be nil: staff then see plug-in
// ids for names.
func Register(s *web.Server, idw *identityweb.Handlers, cases *casework.Service, staff Staff, cat Catalog, files Files, agencies Agencies, paid OnlinePayments, plugins Plugins) error {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &Handlers{web: s, cases: cases, staff: staff, cat: cat, files: files, agencies: agencies, paid: paid, plugins: plugins}
	// Any staff member may open the queue; it lists only their agencies'
	// cases. Per-case access is checked against the case's agency.
	anyStaff := func(*http.Request, *identity.Account) bool { return true }
	s.Handle("GET /console/cases", idw.RequireStaff(anyStaff, h.queue))
	s.Handle("GET /console/cases/{id}", idw.RequireStaff(anyStaff, h.staffCase))
	s.Handle("GET /console/cases/{id}/files/{file}", idw.RequireStaff(anyStaff, h.staffFile))
	s.Handle("POST /console/cases/{id}/assign", idw.RequireStaff(anyStaff, h.assign))
	s.Handle("POST /console/cases/{id}/transition", idw.RequireStaff(anyStaff, h.staffTransition))
	s.Handle("POST /console/cases/{id}/request", idw.RequireStaff(anyStaff, h.request))
	s.Handle("POST /console/cases/{id}/note", idw.RequireStaff(anyStaff, h.note))
	s.Handle("POST /console/cases/{id}/message", idw.RequireStaff(anyStaff, h.message))
	s.Handle("POST /console/cases/{id}/payment", idw.RequireStaff(anyStaff, h.payment))
	s.Handle("POST /console/cases/{id}/plugin-calls/{call}/retry", idw.RequireStaff(anyStaff, h.retryPluginCall))
	s.Handle("GET /applications/{id}", h.citizen(h.citizenCase))
	s.Handle("POST /applications/{id}/respond", h.citizen(h.respond))
	s.Handle("POST /applications/{id}/transition", h.citizen(h.citizenTransition))
	return nil
}

// citizen requires a full session, with the one signed-in wrapper every
// page package uses; the block decides who may see the case.
func (h *Handlers) citizen(fn http.HandlerFunc) http.Handler {
	return identityweb.SignedIn(h.web, func(w http.ResponseWriter, r *http.Request, _ *identity.Account) { fn(w, r) })
}

// lang is the page language as a manifest text key.
func lang(r *http.Request) string { return string(web.Lang(r)) }

// tr picks the text in lang.
func tr(t manifest.Text, lang string) string {
	if lang == "es" && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// when formats an instant for pages: date and local time in the
// jurisdiction's zone, in the page's language (i18n.Formatter).
func when(p *web.Page, t *time.Time) string {
	if t == nil {
		return ""
	}
	return p.DateTime(*t)
}

// staffRoles returns the roles actor holds in agency (the grants of the
// acting principal), which decide what a page offers.
func staffRoles(actor platform.Actor, agency string) []string {
	var out []string
	for _, g := range actor.Grants {
		if g.Agency == agency {
			out = append(out, g.Role)
		}
	}
	return out
}

// canWork: any role but auditor (read only) may change a case.
func canWork(roles []string) bool {
	return slices.ContainsFunc(roles, func(r string) bool { return r != string(identity.Auditor) })
}

// AgencyName is agency's name in the page's language (its id when the
// agency cannot be read: a name is a courtesy).
func AgencyName(ctx context.Context, ag Agencies, p *web.Page, id string) string {
	a, err := ag.Agency(ctx, id)
	if err != nil {
		return id
	}
	if p.Lang == "es" && a.NameES != "" {
		return a.NameES
	}
	return a.Name
}
