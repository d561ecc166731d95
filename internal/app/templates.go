package app

import (
	"context"
	"fmt"
	"sort"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/notify"
)

// ManifestTemplates registers the messages a published service sends to
// applicants (its workflow's notify actions to the citizen) as email
// templates of its agency, named "SERVICE: STATE". Agencies then see,
// preview and reuse them through the Notify-compatible API like templates
// they made with `portico notify template create`. A changed message
// becomes a new version of its template; an unchanged one is left alone,
// so running it again (every demo start, every publish) does nothing new.
// It runs after the publish transaction: templates are derived from the
// immutable manifest and can always be made again.
func (a *App) ManifestTemplates(ctx context.Context, p catalog.Published) (changed int, err error) {
	m := p.Manifest
	existing, err := a.Notify.Templates(ctx, p.AgencyID, notify.TemplateEmail)
	if err != nil {
		return 0, err
	}
	byName := map[string]notify.Template{}
	for _, t := range existing {
		byName[t.Name] = t
	}
	states := make([]string, 0, len(m.Workflow.States))
	for id := range m.Workflow.States {
		states = append(states, id)
	}
	sort.Strings(states)
	for _, id := range states {
		for i, act := range m.Workflow.States[id].OnEnter {
			if act.Notify == nil || act.Notify.To != "citizen" {
				continue
			}
			name := fmt.Sprintf("%s: %s", m.ID, id)
			if i > 0 && countCitizenNotes(m.Workflow.States[id].OnEnter) > 1 {
				name = fmt.Sprintf("%s: %s (%d)", m.ID, id, i+1)
			}
			in := notify.TemplateInput{
				AgencyID: p.AgencyID, Type: notify.TemplateEmail, Name: name,
				Subject: m.Title.EN, Body: act.Notify.Message.EN, SubjectES: m.Title.ES, BodyES: act.Notify.Message.ES,
				CreatedBy: fmt.Sprintf("service:%s@%d", m.ID, p.Version),
			}
			cur, ok := byName[name]
			switch {
			case !ok:
				if _, err := a.Notify.CreateTemplate(ctx, in); err != nil {
					return changed, fmt.Errorf("app: template %q: %w", name, err)
				}
			case cur.Subject != in.Subject || cur.Body != in.Body || cur.SubjectES != in.SubjectES || cur.BodyES != in.BodyES:
				if _, err := a.Notify.UpdateTemplate(ctx, cur.ID, in); err != nil {
					return changed, fmt.Errorf("app: template %q: %w", name, err)
				}
			default:
				continue
			}
			changed++
		}
	}
	return changed, nil
}

func countCitizenNotes(acts []manifest.Action) int {
	n := 0
	for _, a := range acts {
		if a.Notify != nil && a.Notify.To == "citizen" {
			n++
		}
	}
	return n
}
