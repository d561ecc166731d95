package caseweb

import (
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/web"
)

// WhoLabel names the actor of a timeline entry (e.By, from the block's
// NameActors) for the page's reader. Staff read the applicant by name,
// each staff member by name and role, "System" for the workflow's
// automatic steps and the platform for its notices; the citizen reads
// "You", the agency's name (agency) for its staff and its automatic steps,
// and the platform for notices.
func WhoLabel(p *web.Page, by casework.Who, staff bool, agency string) string {
	switch by.Kind {
	case casework.ByApplicant:
		switch {
		case !staff:
			return p.T("case.who.you")
		case by.Name != "":
			return p.T("case.who.applicant.named", by.Name)
		}
		return p.T("case.who.applicant")
	case casework.ByStaff:
		if !staff {
			return agency
		}
		if by.Name == "" {
			return p.T("case.who.staff")
		}
		if len(by.Roles) == 0 {
			return by.Name
		}
		roles := make([]string, len(by.Roles))
		for i, r := range by.Roles {
			roles[i] = p.T("role." + r)
		}
		return p.T("case.who.staff.named", by.Name, strings.Join(roles, ", "))
	case casework.ByPlatform:
		return p.T("case.who.system")
	}
	if !staff {
		return agency
	}
	return p.T("case.who.automatic")
}

// EntryText describes a timeline entry in the page's language (m: the
// manifest of the case's service version, for its states' titles).
func EntryText(p *web.Page, m *manifest.Manifest, e casework.Entry) string {
	lg := string(p.Lang)
	state := func(id string) string {
		if st, ok := m.Workflow.States[id]; ok {
			return tr(st.Title, lg)
		}
		return id
	}
	switch e.Kind {
	case "opened":
		return p.T("case.entry.opened")
	case "transition":
		return p.T("case.entry.transition", state(e.Str("to")))
	case "assign":
		if e.Str("to") == "" {
			return p.T("case.entry.unassigned")
		}
		return p.T("case.entry.assigned")
	case "request":
		return p.T("case.entry.request")
	case "response":
		return p.T("case.entry.response")
	case "overdue":
		return p.T("case.entry.overdue", state(e.Str("state")))
	}
	switch e.Action() {
	case "notify", "notify_staff":
		return e.Text("message", lg)
	case "request_payment":
		return p.T("case.entry.payment_requested", p.Money(e.Amount("amount"), e.Str("currency")))
	case "payment_recorded":
		if online, _ := e.Detail["online"].(bool); online {
			return p.T("case.entry.payment_online", p.Money(e.Amount("amount"), e.Str("currency")), e.Str("ref"))
		}
		if ref := e.Str("ref"); ref != "" {
			return p.T("case.entry.payment_recorded.receipt", p.Money(e.Amount("amount"), e.Str("currency")), ref)
		}
		return p.T("case.entry.payment_recorded", p.Money(e.Amount("amount"), e.Str("currency")))
	case "payment_duplicate":
		key := "case.entry.payment_duplicate"
		if e.Str("refund") != "requested" {
			key = "case.entry.payment_duplicate.manual"
		}
		return p.T(key, p.Money(e.Amount("amount"), e.Str("currency")), e.Str("ref"))
	case "issue_document":
		return p.T("case.entry.document", e.Text("title", lg))
	case "set_reminder":
		name := e.Str("reminder")
		if r, ok := m.Reminders[name]; ok && r.Message.EN != "" {
			name = tr(r.Message, lg)
		}
		due := e.Str("due")
		if t, err := time.Parse(time.RFC3339, due); err == nil {
			due = p.Date(t) // a stored instant, shown as a date in the jurisdiction's zone
		}
		return p.T("case.entry.reminder", name, due)
	case "call_plugin":
		switch e.Str("outcome") {
		case "ok":
			if st := NoStatus(e); st > 0 {
				return p.T("case.entry.plugin.no", e.Str("plugin"), e.Str("operation"), st)
			}
			return p.T("case.entry.plugin.ok", e.Str("plugin"), e.Str("operation"))
		case "failed":
			return p.T("case.entry.plugin.failed", e.Str("plugin"), e.Str("operation"), p.T(pluginReason(e.Str("reason"))))
		case "retried", "skipped":
			return p.T("case.entry.plugin."+e.Str("outcome"), e.Str("plugin"), e.Str("operation"))
		}
		return p.T("case.entry.plugin", e.Str("plugin"), e.Str("operation"))
	case "plugin_decision":
		switch e.Str("reason") {
		case "moved_on", "no_value":
			return p.T("case.entry.plugin.staff."+e.Str("reason"), e.Str("plugin"))
		case "unmapped":
			return p.T("case.entry.plugin.staff.unmapped", e.Str("plugin"), e.Str("value"))
		case "refused":
			return p.T("case.entry.plugin.staff.refused", e.Str("plugin"), transitionLabel(m, e.Str("transition"), lg), e.Str("why"))
		}
		return p.T("case.entry.plugin.decided", e.Str("plugin"), e.Str("value"), transitionLabel(m, e.Str("transition"), lg))
	}
	if e.Kind == "note" {
		return p.T("case.entry.note")
	}
	return p.T("case.entry.message")
}

// NoStatus is the status of a call_plugin answer that said no (a 4xx
// the plug-in declares, such as 409 for a time taken meanwhile), or 0:
// the call was made, but what it was to do was not done, so staff must
// act as for a failure.
func NoStatus(e casework.Entry) int {
	st, _ := e.Detail["status"].(float64)
	if e.Str("outcome") == "ok" && st >= 400 {
		return int(st)
	}
	return 0
}

// pluginReasons are the outcomes of a failed plug-in call the pages
// explain; any other reads as an error.
var pluginReasons = []string{"timeout", "error", "invalid_response", "circuit_open", "refused", "bad_request", "unavailable", "waiting"}

// pluginReason is the message key of a failed call's reason.
func pluginReason(outcome string) string {
	for _, r := range pluginReasons {
		if r == outcome {
			return "case.entry.plugin.reason." + r
		}
	}
	return "case.entry.plugin.reason.error"
}

// transitionLabel is the label of transition id in lg (the id when the
// manifest has no such transition).
func transitionLabel(m *manifest.Manifest, id, lg string) string {
	for _, t := range m.Workflow.Transitions {
		if t.ID == id {
			return tr(t.Label, lg)
		}
	}
	return id
}
