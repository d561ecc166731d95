// Package console is the staff side of the portal: a staff member's home
// listing their agencies (with the way to their cases), an agency's page
// (its staff), and the platform administrator's list of staff accounts.
// The case queue and case pages under /console/cases belong to the
// casework block's web side (internal/casework/caseweb).
//
// Authorization is decided here in one place, the allow functions in
// Register, against the signed-in account's memberships; the table test in
// cmd/portico walks every route as every kind of visitor.
package console

import (
	"context"
	"embed"
	"errors"
	"net/http"
	"net/url"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Identity is what the console needs of the identity block.
type Identity interface {
	AgencyMembers(ctx context.Context, agencyID string) ([]identity.AgencyMember, error)
	AddAgencyStaff(ctx context.Context, n identity.NewStaff) error
	Users(ctx context.Context, kind identity.Kind) ([]*identity.Account, error)
}

// Agencies is what the console needs of the tenancy block.
type Agencies interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
	Agencies(ctx context.Context, jurisdictionID string) ([]tenancy.Agency, error)
}

// Cases is what the console's home needs of the casework block: the
// state of each agency's work (the block decides what the staff member
// sees and audits it) and the workflow of a case, to describe its
// timeline.
type Cases interface {
	Overview(ctx context.Context, actor platform.Actor, all []string) ([]casework.AgencyOverview, error)
	Workflow(ctx context.Context, c casework.Case) (*casework.Workflow, error)
}

// Catalog is what the console's home needs of the catalog block: an
// agency's services, for their titles and their states' titles.
type Catalog interface {
	List(ctx context.Context, agency string) ([]catalog.Published, error)
}

// Console serves the staff pages.
type Console struct {
	web      *web.Server
	idw      *identityweb.Handlers
	identity Identity
	agencies Agencies
	cases    Cases
	catalog  Catalog
	audit    *audit.Log
}

// Register adds the console's pages.
func Register(s *web.Server, idw *identityweb.Handlers, id Identity, ag Agencies, cases Cases, cat Catalog, log *audit.Log) error {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	c := &Console{web: s, idw: idw, identity: id, agencies: ag, cases: cases, catalog: cat, audit: log}
	anyStaff := func(*http.Request, *identity.Account) bool { return true }
	memberOf := func(r *http.Request, a *identity.Account) bool {
		return a.PlatformAdmin || a.HasRole(r.PathValue("agency"), identity.Roles...)
	}
	adminOf := func(r *http.Request, a *identity.Account) bool {
		return a.PlatformAdmin || a.HasRole(r.PathValue("agency"), identity.AgencyAdmin)
	}
	platformAdmin := func(_ *http.Request, a *identity.Account) bool { return a.PlatformAdmin }

	s.Handle("GET /console", idw.RequireStaff(anyStaff, c.home))
	s.Handle("GET /console/agencies/{agency}", idw.RequireStaff(memberOf, c.agency))
	s.Handle("POST /console/agencies/{agency}/staff", idw.RequireStaff(adminOf, c.addStaff))
	s.Handle("GET /admin/users", idw.RequireStaff(platformAdmin, c.users))
	return nil
}

type agencyView struct {
	Agency  tenancy.Agency
	Members []identity.AgencyMember
	CanAdd  bool
	Added   bool
	Values  map[string]string
	Roles   []identity.Role
}

// V returns a typed value, for the add-staff form.
func (v agencyView) V(name string) string { return v.Values[name] }

func (c *Console) agencyPage(w http.ResponseWriter, r *http.Request, status int, values map[string]string, errs []web.FieldError) {
	_, a := identityweb.Current(r)
	id := r.PathValue("agency")
	ag, err := c.agencies.Agency(r.Context(), id)
	if err != nil {
		c.web.Error(w, r, err)
		return
	}
	members, err := c.identity.AgencyMembers(r.Context(), id)
	if err != nil {
		c.web.Error(w, r, err)
		return
	}
	// Staff lists are personal data of staff: reading one is audited.
	if _, err := c.audit.Write(r.Context(), audit.Record{Action: "agency.staff.read", Subject: "agency:" + id, AgencyID: id}); err != nil {
		c.web.Error(w, r, err)
		return
	}
	v := agencyView{Agency: ag, Members: members, CanAdd: a.PlatformAdmin || a.HasRole(id, identity.AgencyAdmin),
		Added: r.URL.Query().Get("added") == "1", Values: values, Roles: identity.Roles}
	p := c.web.Renderer().NewPage(r, v)
	p.Errors = errs
	c.web.Page(w, r, status, "console_agency", p)
}

func (c *Console) agency(w http.ResponseWriter, r *http.Request) {
	c.agencyPage(w, r, http.StatusOK, map[string]string{}, nil)
}

// addStaff answers the same whether or not the address has a citizen
// account (identity.AddAgencyStaff): the address's owner learns what
// happened by email.
func (c *Console) addStaff(w http.ResponseWriter, r *http.Request) {
	values := map[string]string{"email": r.PostFormValue("email"), "legal_name": r.PostFormValue("legal_name"), "role": r.PostFormValue("role")}
	role, err := identity.ParseRole(values["role"])
	if err == nil {
		err = c.identity.AddAgencyStaff(r.Context(), identity.NewStaff{Email: values["email"], LegalName: values["legal_name"], AgencyID: r.PathValue("agency"), Role: role})
	}
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeInternal {
			c.web.Error(w, r, err)
			return
		}
		p := c.web.Renderer().NewPage(r, nil)
		field := "email"
		var pe *platform.Error
		if errors.As(err, &pe) {
			switch pe.Field {
			case "role":
				field = "role"
			case "name":
				field = "legal_name"
			}
		}
		c.agencyPage(w, r, web.Status(err), values, []web.FieldError{{Field: field, Message: p.T("console.staff.invalid", platform.ErrorMessage(err))}})
		return
	}
	http.Redirect(w, r, "/console/agencies/"+url.PathEscape(r.PathValue("agency"))+"?added=1", http.StatusSeeOther)
}

func (c *Console) users(w http.ResponseWriter, r *http.Request) {
	users, err := c.identity.Users(r.Context(), identity.Staff)
	if err != nil {
		c.web.Error(w, r, err)
		return
	}
	if _, err := c.audit.Write(r.Context(), audit.Record{Action: "staff.list.read", Subject: "platform"}); err != nil {
		c.web.Error(w, r, err)
		return
	}
	c.web.Page(w, r, http.StatusOK, "console_users", c.web.Renderer().NewPage(r, users))
}
