package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Subscriber is a plug-in that receives an agency's events of a type by
// webhook: it asked for the type, has a webhook, and the agency has it
// enabled (not disabled, not waiting for re-approval).
type Subscriber struct {
	Plugin  string
	Webhook string
	Agency  string
	// ApprovedAt is when the agency last enabled (approved) the plug-in;
	// the webhook deliverer lifts a 410 stop recorded before it.
	ApprovedAt time.Time
}

// Subscribed reports whether a plug-in's event list asks for eventType
// (exact types, or prefixes ending in "*").
func Subscribed(events []string, eventType string) bool {
	for _, t := range events {
		if t == eventType || (strings.HasSuffix(t, "*") && strings.HasPrefix(eventType, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

// Subscribers returns the plug-ins that receive agency's events of
// eventType, by plug-in id; pluginID, when not empty, limits it to that
// plug-in; an empty eventType matches every type. It is the platform's own read for the webhook deliverer (no
// actor: it reveals no person's data), and an event of no agency goes to
// no plug-in.
func (s *Service) Subscribers(ctx context.Context, agency, eventType, pluginID string) ([]Subscriber, error) {
	if agency == "" {
		return nil, nil
	}
	where, args := `agency_id = $1 AND status = $2`, []any{agency, StatusEnabled}
	if pluginID != "" {
		where += ` AND plugin_id = $3`
		args = append(args, pluginID)
	}
	ens, err := s.enablements(ctx, s.db.Read(), where, args...)
	if err != nil {
		return nil, err
	}
	var out []Subscriber
	for _, en := range ens {
		p, err := s.load(ctx, s.db.Read(), en.Plugin)
		if err != nil {
			return nil, fmt.Errorf("plugin: subscribers: %w", err)
		}
		if p.Webhook == "" || (eventType != "" && !Subscribed(p.Events, eventType)) {
			continue
		}
		out = append(out, Subscriber{Plugin: p.ID, Webhook: p.Webhook, Agency: en.Agency, ApprovedAt: en.ApprovedAt})
	}
	return out, nil
}

// EnabledBy lists the agencies that have the plug-in enabled or had it
// (any status), for deciding who may see its deliveries.
func (s *Service) EnabledBy(ctx context.Context, pluginID string) ([]string, error) {
	if _, err := s.load(ctx, s.db.Read(), pluginID); err != nil {
		return nil, err
	}
	ens, err := s.enablements(ctx, s.db.Read(), `plugin_id = $1`, pluginID)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, en := range ens {
		out = append(out, en.Agency)
	}
	return out, nil
}
