package caseweb

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
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

// appointment is the appointment m says c's recorded values describe,
// nil when nothing (or no longer anything) is booked: its start (and
// end) in the jurisdiction's zone, and the place the applicant chose.
func appointment(p *web.Page, m *manifest.Manifest, answers map[string]map[string]any, recorded map[string]any) *appointmentView {
	ap := m.Appointment
	if ap == nil {
		return nil
	}
	start, ok := recordedTime(recorded, ap.StartsAt)
	if !ok {
		return nil
	}
	v := &appointmentView{When: p.DateTime(start), Start: p.ISO(start)}
	if end, ok := recordedTime(recorded, ap.EndsAt); ok && end.After(start) {
		v.When = p.T("case.appointment.span", p.DateTime(start), p.Format().Time(end))
	}
	if page, prop, ok := strings.Cut(ap.Place, "."); ok {
		for _, pg := range m.Pages {
			if pg.ID != page {
				continue
			}
			if chosen, ok := answers[page][prop].(string); ok {
				if label, ok := pg.Fields[prop].Options[chosen]; ok {
					v.Place = tr(label, string(p.Lang))
				}
			}
		}
	}
	return v
}

func recordedTime(recorded map[string]any, name string) (time.Time, bool) {
	s, ok := recorded[name].(string)
	if name == "" || !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}
