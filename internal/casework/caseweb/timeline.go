package caseweb

import (
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// who names the actor of a timeline entry: staff by name for staff (the
// citizen sees "the agency"), the applicant, or the platform.
func who(p *web.Page, actor string, names map[string]string, staff bool) string {
	kind, id, _ := strings.Cut(actor, ":")
	switch platform.ActorKind(kind) {
	case platform.ActorCitizen:
		return p.T("case.who.applicant")
	case platform.ActorStaff:
		if staff {
			if n := names[id]; n != "" {
				return n
			}
		}
		return p.T("case.who.agency")
	}
	return p.T("case.who.system")
}

// entryText describes a timeline entry in the page's language.
func entryText(p *web.Page, m *manifest.Manifest, e casework.Entry) string {
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
		return p.T("case.entry.payment_recorded", p.Money(e.Amount("amount"), e.Str("currency")))
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
		return p.T("case.entry.plugin", e.Str("plugin"), e.Str("operation"))
	}
	if e.Kind == "note" {
		return p.T("case.entry.note")
	}
	return p.T("case.entry.message")
}
