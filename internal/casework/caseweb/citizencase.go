package caseweb

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// citizenCaseFor loads the case in the path through the block's policy
// (view: audited as a read, for showing it); a case that is not the
// signed-in citizen's answers 404.
func (h *Handlers) citizenCaseFor(w http.ResponseWriter, r *http.Request, view bool) (casework.Case, bool) {
	ctx := r.Context()
	load := h.cases.ApplicantCase
	if view {
		load = h.cases.ViewApplicantCase
	}
	c, err := load(ctx, platform.ActorFrom(ctx), r.PathValue("id"))
	if err != nil {
		if platform.ErrorCode(err) != platform.CodeNotFound {
			h.web.Error(w, r, err)
			return c, false
		}
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return c, false
	}
	return c, true
}

func (h *Handlers) citizenCase(w http.ResponseWriter, r *http.Request) {
	c, ok := h.citizenCaseFor(w, r, true)
	if !ok {
		return
	}
	h.renderCitizen(w, r, c, http.StatusOK, nil, nil)
}

func (h *Handlers) renderCitizen(w http.ResponseWriter, r *http.Request, c casework.Case, status int, values map[string]string, errs []web.FieldError) {
	ctx := r.Context()
	p := h.web.Renderer().NewPage(r, nil)
	v, err := h.buildView(ctx, p, c, false, casework.Applicant{})
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	v.Values = values
	if err := h.citizenAppointment(ctx, p, c, &v); err != nil {
		h.web.Error(w, r, err)
		return
	}
	if done := r.URL.Query().Get("done"); slices.Contains(doneKeys, done) {
		v.Done = p.T("case.done." + done)
	}
	switch {
	case c.ClosedAt != nil:
		v.Next = p.T("case.next.closed", v.State)
	case c.WaitingOn == casework.WaitingOnCitizen:
		v.Next = p.T("case.next.answer")
	case v.Outstanding != "":
		v.Next = p.T("case.next.pay", v.Outstanding)
		v.PayOnline = true
	case c.SLADueAt != nil:
		v.Next = p.T("case.next.agency.by", when(p, c.SLADueAt))
	default:
		v.Next = p.T("case.next.agency")
	}
	if c.ClosedAt == nil {
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
		for _, o := range wf.Options(c.State, casework.Actor{Kind: casework.ActorCitizen}, in) {
			if len(o.Blocked) == 0 { // a citizen is offered only what they can do now
				v.Transitions = append(v.Transitions, transitionView{ID: o.Transition.ID, Label: tr(o.Transition.Label, lang(r))})
			}
		}
	}
	p.Data = v
	p.Errors = errs
	h.web.Page(w, r, status, "case_citizen", p)
}

func (h *Handlers) citizenChange(w http.ResponseWriter, r *http.Request, done, field string, fn func(c casework.Case) error) {
	c, ok := h.citizenCaseFor(w, r, false)
	if !ok {
		return
	}
	if err := fn(c); err != nil {
		h.changeFailed(w, r, err, field, func(status int, values map[string]string, errs []web.FieldError) {
			ctx := r.Context()
			fresh, ferr := h.cases.ViewApplicantCase(ctx, platform.ActorFrom(ctx), c.ID)
			if ferr != nil {
				h.web.Error(w, r, ferr)
				return
			}
			h.renderCitizen(w, r, fresh, status, values, errs)
		})
		return
	}
	http.Redirect(w, r, "/applications/"+url.PathEscape(c.ID)+"?done="+done+"#main-content", http.StatusSeeOther)
}

func (h *Handlers) respond(w http.ResponseWriter, r *http.Request) {
	h.citizenChange(w, r, "respond", "body", func(c casework.Case) error {
		_, err := h.cases.Respond(r.Context(), platform.ActorFrom(r.Context()), c.ID, r.PostFormValue("body"))
		return err
	})
}

func (h *Handlers) citizenTransition(w http.ResponseWriter, r *http.Request) {
	h.citizenChange(w, r, "transition", "transitions", func(c casework.Case) error {
		ctx := r.Context()
		_, err := h.cases.Take(ctx, platform.ActorFrom(ctx), c.ID, r.PostFormValue("transition"))
		return err
	})
}

// citizenAppointment adds to v the appointment the workflow booked for
// the applicant, if the service has one and it is still booked.
func (h *Handlers) citizenAppointment(ctx context.Context, p *web.Page, c casework.Case, v *caseView) error {
	a, err := h.cases.Appointment(ctx, c)
	if err != nil || a == nil {
		return err
	}
	v.Appointment = appointment(p, a)
	return nil
}
