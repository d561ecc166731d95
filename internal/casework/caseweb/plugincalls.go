package caseweb

import (
	"context"
	"net/http"
	"strconv"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// This file is what the case pages show of a workflow's plug-in calls:
// for staff, the calls being tried again and those that failed (with a
// Retry button); for the applicant, the appointment a call booked.

// pluginCalls lays out c's calls that staff must know about: those being
// tried again after a failure that may pass (when last tried, when next,
// how many attempts, why, translated; never the plug-in's answer) and
// those that failed for good, retryable by staff who may work cases.
func (h *Handlers) pluginCalls(ctx context.Context, p *web.Page, c casework.Case, mayWork bool) ([]pluginCallView, error) {
	calls, err := h.cases.PluginCalls(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	var out []pluginCallView
	for _, call := range calls {
		name := h.pluginName(ctx, p, call.Plugin)
		reason := p.T(pluginReason(call.LastOutcome))
		switch {
		case call.Waiting():
			v := pluginCallView{ID: call.ID, Waiting: true}
			last, next := "", ""
			if call.LastTried != nil {
				last = p.DateTime(*call.LastTried)
			}
			if call.NextTry != nil {
				next = p.DateTime(*call.NextTry)
			}
			v.Text = p.Format().N("case.plugin.waiting.body", int64(call.Attempts), name, call.Operation, last, next, call.Attempts, reason)
			out = append(out, v)
		case call.Status == "failed":
			out = append(out, pluginCallView{ID: call.ID, CanRetry: mayWork,
				Text: p.Format().N("case.plugin.failed.after", int64(call.Attempts), name, call.Operation, call.Attempts, reason)})
		}
	}
	return out, nil
}

// pluginName is a plug-in's name in the page's language, or its id when
// the registry cannot say.
func (h *Handlers) pluginName(ctx context.Context, p *web.Page, id string) string {
	if h.plugins == nil {
		return id
	}
	pl, err := h.plugins.Get(ctx, platform.ActorFrom(ctx), id)
	if err != nil || pl == nil {
		return id
	}
	if p.Lang == "es" && pl.Name.ES != "" {
		return pl.Name.ES
	}
	if pl.Name.EN != "" {
		return pl.Name.EN
	}
	return id
}

// retryPluginCall tries a failed call again: the block decides who may
// (staff who work the case's agency) and audits it.
func (h *Handlers) retryPluginCall(w http.ResponseWriter, r *http.Request) {
	call, err := strconv.ParseInt(r.PathValue("call"), 10, 64)
	if err != nil || call <= 0 {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	h.staffChange(w, r, "retry", "plugin-calls", func(c casework.Case, _ []string, _ *identity.Account) error {
		ctx := r.Context()
		return h.cases.RetryPluginCall(ctx, platform.ActorFrom(ctx), c.ID, call)
	})
}

// appointment is how the applicant's page shows a: its start (and end)
// in the jurisdiction's zone, and the place they chose.
func appointment(p *web.Page, a *casework.Appointment) *appointmentView {
	v := &appointmentView{When: p.DateTime(a.Start), Start: p.ISO(a.Start), Place: tr(a.Place, string(p.Lang))}
	if !a.End.IsZero() {
		v.When = p.T("case.appointment.span", p.DateTime(a.Start), p.Format().Time(a.End))
	}
	return v
}
