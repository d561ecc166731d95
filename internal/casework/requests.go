package casework

import (
	"context"
	"database/sql"
	"time"

	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// RequestInfo asks the citizen for more information. The case then waits
// on the citizen and its SLA clock stops until they answer (Respond).
func (s *Service) RequestInfo(ctx context.Context, actor platform.Actor, caseID, body string) (Case, error) {
	body, err := cleanText(body)
	if err != nil {
		return Case{}, err
	}
	return s.change(ctx, actor, mayWork, caseID, "case.request_info", EventInfoRequested, func(ctx context.Context, tx *sql.Tx, c *Case) (map[string]any, error) {
		if c.WaitingOn == WaitingOnCitizen {
			return nil, platform.Errorf(platform.CodeConflict, "the case is already waiting for the citizen's answer")
		}
		now := s.clock.Now().UTC()
		c.WaitingOn, c.UpdatedAt = WaitingOnCitizen, now
		if c.SLADueAt != nil {
			left := int64(c.SLADueAt.Sub(now) / time.Second)
			c.slaRemaining, c.SLADueAt = &left, nil
		}
		if err := s.save(ctx, tx, *c); err != nil {
			return nil, err
		}
		if err := s.entry(ctx, tx, c.ID, "request", false, body, nil); err != nil {
			return nil, err
		}
		if s.deps.Obligations != nil {
			w, err := s.workflow(ctx, *c)
			if err != nil {
				return nil, err
			}
			m := w.Manifest
			if err := s.deps.Obligations.Set(ctx, tx, Obligation{
				AccountID: c.AccountID, AgencyID: c.AgencyID, Kind: "action", Source: RequestSource(c.ID),
				Title: manifest.Text{EN: "Answer the agency's question about " + c.Reference + ": " + m.Title.EN,
					ES: "Responda a la pregunta de la agencia sobre " + c.Reference + ": " + m.Title.ES},
				URL: "/applications/" + c.ID, Due: now.Add(RequestDue), RemindBefore: []time.Duration{7 * 24 * time.Hour, 0},
			}); err != nil {
				return nil, err
			}
		}
		return map[string]any{"length": len(body)}, s.mailText(ctx, tx, *c, "mail.request", body)
	})
}

// Respond records the citizen's answer to a request for more information;
// the case returns to the agency with the SLA time it had left.
func (s *Service) Respond(ctx context.Context, actor platform.Actor, caseID, body string) (Case, error) {
	body, err := cleanText(body)
	if err != nil {
		return Case{}, err
	}
	return s.change(ctx, actor, isTheApplicant, caseID, "case.respond", EventInfoReceived, func(ctx context.Context, tx *sql.Tx, c *Case) (map[string]any, error) {
		if c.WaitingOn != WaitingOnCitizen {
			return nil, platform.Errorf(platform.CodeConflict, "nothing has been asked of you on this application")
		}
		now := s.clock.Now().UTC()
		c.WaitingOn, c.UpdatedAt = WaitingOnAgency, now
		if c.slaRemaining != nil {
			due := now.Add(time.Duration(*c.slaRemaining) * time.Second)
			c.SLADueAt, c.slaRemaining = &due, nil
		}
		if err := s.save(ctx, tx, *c); err != nil {
			return nil, err
		}
		if s.deps.Obligations != nil {
			if err := s.deps.Obligations.Complete(ctx, tx, c.AccountID, RequestSource(c.ID)); err != nil {
				return nil, err
			}
		}
		return map[string]any{"length": len(body)}, s.entry(ctx, tx, c.ID, "response", false, body, nil)
	})
}
