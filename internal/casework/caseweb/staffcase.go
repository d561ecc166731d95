package caseweb

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// staffCaseFor loads the case in the path through the block's policy
// (view: audited as a read, for showing it) and returns the signed-in
// staff member's roles in its agency, which say what the page offers; on
// an error it answers (404 for a case they may not see) and returns false.
func (h *Handlers) staffCaseFor(w http.ResponseWriter, r *http.Request, a *identity.Account, view bool) (casework.Case, []string, bool) {
	ctx := r.Context()
	load := h.cases.CaseFor
	if view {
		load = h.cases.ViewCase
	}
	actor := platform.ActorFrom(ctx)
	c, err := load(ctx, actor, r.PathValue("id"))
	if err != nil {
		h.web.Error(w, r, err)
		return c, nil, false
	}
	return c, staffRoles(actor, c.AgencyID), true
}

func (h *Handlers) staffCase(w http.ResponseWriter, r *http.Request) {
	_, a := identityweb.Current(r)
	c, roles, ok := h.staffCaseFor(w, r, a, true)
	if !ok {
		return
	}
	h.renderStaff(w, r, a, c, roles, http.StatusOK, nil, nil)
}

// renderStaff renders the staff case page (after an error, with errs and
// what was typed); the caller loaded c with ViewCase, which audited it.
func (h *Handlers) renderStaff(w http.ResponseWriter, r *http.Request, a *identity.Account, c casework.Case, roles []string, status int, values map[string]string, errs []web.FieldError) {
	ctx := r.Context()
	p := h.web.Renderer().NewPage(r, nil)
	// Who applied: the block decides (staff of the case's agency) and
	// audits the read (case.applicant.read), once per view of the page.
	applicant, err := h.cases.ViewApplicant(ctx, platform.ActorFrom(ctx), c.ID)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	v, err := h.buildView(ctx, p, c, true, applicant)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	v.Values = values
	if v.PluginCalls, err = h.pluginCalls(ctx, p, c, canWork(roles)); err != nil {
		h.web.Error(w, r, err)
		return
	}
	v.CanWork = canWork(roles) && c.ClosedAt == nil
	v.CanPay = v.CanWork && v.Outstanding != "" && (slices.Contains(roles, string(identity.Finance)) || slices.Contains(roles, string(identity.AgencyAdmin)))
	if done := r.URL.Query().Get("done"); slices.Contains(doneKeys, done) {
		v.Done = p.T("case.done." + done)
	}
	if v.CanWork {
		wf, err := h.cases.Workflow(ctx, c)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		in, err := h.cases.Inputs(ctx, c)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		for _, o := range wf.Options(c.State, casework.Staff(roles...), in) {
			tv := transitionView{ID: o.Transition.ID, Label: tr(o.Transition.Label, lang(r))}
			for _, b := range o.Blocked {
				tv.Blocked = append(tv.Blocked, p.T(b.Key, b.Args...))
			}
			v.Transitions = append(v.Transitions, tv)
		}
		ms, err := h.staff.AgencyMembers(ctx, c.AgencyID)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		for _, m := range ms {
			if canWork(rolesOf(m)) {
				v.Members = append(v.Members, option{Value: m.AccountID, Label: m.LegalName, Selected: m.AccountID == c.Assignee})
			}
		}
	}
	p.Data = v
	p.Errors = errs
	h.web.Page(w, r, status, "case_staff", p)
}

func rolesOf(m identity.AgencyMember) []string {
	out := make([]string, len(m.Roles))
	for i, r := range m.Roles {
		out[i] = string(r)
	}
	return out
}

// staffChange runs a change on a case the signed-in staff member may
// work, then redirects to the case page with a flash message; an error a
// person caused re-renders the page with it.
func (h *Handlers) staffChange(w http.ResponseWriter, r *http.Request, done, field string, fn func(c casework.Case, roles []string, a *identity.Account) error) {
	_, a := identityweb.Current(r)
	c, roles, ok := h.staffCaseFor(w, r, a, false)
	if !ok {
		return
	}
	if err := fn(c, roles, a); err != nil {
		h.changeFailed(w, r, err, field, func(status int, values map[string]string, errs []web.FieldError) {
			ctx := r.Context()
			fresh, ferr := h.cases.ViewCase(ctx, platform.ActorFrom(ctx), c.ID)
			if ferr != nil {
				h.web.Error(w, r, ferr)
				return
			}
			h.renderStaff(w, r, a, fresh, roles, status, values, errs)
		})
		return
	}
	http.Redirect(w, r, "/console/cases/"+url.PathEscape(c.ID)+"?done="+done+"#main-content", http.StatusSeeOther)
}

// changeFailed shows an error a person caused on the page (translated
// where the block gave a reason) and sends anything else to the error page.
func (h *Handlers) changeFailed(w http.ResponseWriter, r *http.Request, err error, field string, render func(int, map[string]string, []web.FieldError)) {
	code := platform.ErrorCode(err)
	if code != platform.CodeInvalid && code != platform.CodeConflict {
		h.web.Error(w, r, err)
		return
	}
	p := h.web.Renderer().NewPage(r, nil)
	msg := platform.ErrorMessage(err)
	var ref *casework.Refusal
	if errors.As(err, &ref) {
		msg = p.T(ref.Reason.Key, ref.Reason.Args...)
	}
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Field == "amount" {
		field = "amount"
	}
	values := map[string]string{}
	for _, k := range []string{"body", "amount", "ref"} {
		values[k] = r.PostFormValue(k)
	}
	render(web.Status(err), values, []web.FieldError{{Field: field, Message: p.T("case.error", msg)}})
}

func (h *Handlers) assign(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "assign", "assignee", func(c casework.Case, _ []string, a *identity.Account) error {
		to := r.PostFormValue("assignee")
		if to == "me" {
			to = a.ID
		}
		if to != "" {
			ms, err := h.staff.AgencyMembers(r.Context(), c.AgencyID)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(ms, func(m identity.AgencyMember) bool { return m.AccountID == to && canWork(rolesOf(m)) }) {
				return platform.Invalid("assignee", "choose a member of the agency's staff")
			}
		}
		_, err := h.cases.Assign(r.Context(), platform.ActorFrom(r.Context()), c.ID, to)
		return err
	})
}

func (h *Handlers) staffTransition(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "transition", "transitions", func(c casework.Case, roles []string, _ *identity.Account) error {
		ctx := r.Context()
		_, err := h.cases.Take(ctx, platform.ActorFrom(ctx), c.ID, r.PostFormValue("transition"))
		return err
	})
}

func (h *Handlers) request(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "request", "request-body", func(c casework.Case, _ []string, _ *identity.Account) error {
		_, err := h.cases.RequestInfo(r.Context(), platform.ActorFrom(r.Context()), c.ID, r.PostFormValue("body"))
		return err
	})
}

func (h *Handlers) note(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "note", "note-body", func(c casework.Case, _ []string, _ *identity.Account) error {
		_, err := h.cases.Note(r.Context(), platform.ActorFrom(r.Context()), c.ID, r.PostFormValue("body"))
		return err
	})
}

func (h *Handlers) message(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "message", "message-body", func(c casework.Case, _ []string, _ *identity.Account) error {
		_, err := h.cases.Message(r.Context(), platform.ActorFrom(r.Context()), c.ID, r.PostFormValue("body"))
		return err
	})
}

func (h *Handlers) payment(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "payment", "amount", func(c casework.Case, roles []string, _ *identity.Account) error {
		ctx := r.Context()
		if err := casework.MayRecordPayment(platform.ActorFrom(ctx), c); err != nil {
			return err
		}
		amount, err := ParseMoney(r.PostFormValue("amount"))
		if err != nil {
			return err
		}
		_, err = h.cases.RecordPayment(ctx, platform.ActorFrom(ctx), c.ID, amount, r.PostFormValue("ref"))
		return err
	})
}

// ParseMoney reads an amount typed by staff ("45", "45.5", "45.00",
// "$1,234.56") as minor units.
func ParseMoney(s string) (int64, error) {
	bad := platform.Invalid("amount", "enter the amount received, like 45.00")
	s = strings.NewReplacer("$", "", ",", "", " ", "").Replace(strings.TrimSpace(s))
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || len(frac) > 2 {
		return 0, bad
	}
	for len(frac) < 2 {
		frac += "0"
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, bad
		}
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f, nil
}
