package webhook

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Delivery is one event's delivery to one plug-in, as operators see it
// (the body is not shown: it names the person by their pairwise subject).
type Delivery struct {
	ID          string     `json:"id"`
	Event       string     `json:"event"`
	Type        string     `json:"type"`
	EventTime   time.Time  `json:"event_time"`
	Plugin      string     `json:"plugin"`
	Agency      string     `json:"agency"`
	URL         string     `json:"url"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	LastStatus  int        `json:"last_status,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Replays     int        `json:"replays"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

// Stop is a 410 Gone that stopped a plug-in's deliveries for an agency;
// Active is false once the agency enabled the plug-in again.
type Stop struct {
	Plugin    string    `json:"plugin"`
	Agency    string    `json:"agency"`
	StoppedAt time.Time `json:"stopped_at"`
	Delivery  string    `json:"delivery"`
	Active    bool      `json:"active"`
}

// Overview is what List returns: recent deliveries (newest first) and
// the stops.
type Overview struct {
	Plugin     string     `json:"plugin"`
	Deliveries []Delivery `json:"deliveries"`
	Stops      []Stop     `json:"stops"`
	DeadCount  int64      `json:"dead"`
}

// ListLimit is how many deliveries List returns at most.
const ListLimit = 200

func isPlatform(a platform.Actor) bool {
	return a.Kind == platform.ActorOperator || a.Kind == platform.ActorSystem || (a.Kind == platform.ActorStaff && a.PlatformAdmin)
}

// scope decides who may see and replay a plug-in's deliveries: the
// operator and platform administrators all of them (nil), administrators
// of an agency that enabled the plug-in their agencies' deliveries.
func (s *Service) scope(ctx context.Context, actor platform.Actor, pluginID string) ([]string, error) {
	switch {
	case actor.Kind == platform.ActorAnonymous || actor.ID == "":
		return nil, platform.Errorf(platform.CodeUnauthorized, "sign in to see a plug-in's deliveries")
	case actor.Kind != platform.ActorStaff && !isPlatform(actor):
		return nil, platform.Errorf(platform.CodeForbidden, "only administrators may see a plug-in's deliveries")
	}
	agencies, err := s.reg.EnabledBy(ctx, pluginID)
	if err != nil {
		return nil, err
	}
	if isPlatform(actor) {
		return nil, nil
	}
	var mine []string
	for _, a := range agencies {
		if actor.HasRole(a, "agency_admin") {
			mine = append(mine, a)
		}
	}
	if len(mine) == 0 {
		return nil, platform.Errorf(platform.CodeForbidden, "only a platform administrator or an administrator of an agency that enabled %s may see its deliveries", pluginID)
	}
	return mine, nil
}

// inScope is a WHERE clause limiting agency_id to agencies ($n from
// first), or nothing for every agency.
func inScope(agencies []string, first int) (string, []any) {
	if agencies == nil {
		return "", nil
	}
	ph := make([]string, len(agencies))
	args := make([]any, len(agencies))
	for i, a := range agencies {
		ph[i], args[i] = fmt.Sprintf("$%d", first+i), a
	}
	return " AND agency_id IN (" + strings.Join(ph, ", ") + ")", args
}

const deliveryCols = `id, event_id, event_type, event_time, plugin_id, agency_id, url, status, attempts, last_status, last_error, replays, created_at, updated_at, delivered_at`

func scanDeliveries(rows *sql.Rows) ([]Delivery, error) {
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		var d Delivery
		var delivered sql.NullTime
		if err := rows.Scan(&d.ID, &d.Event, &d.Type, &d.EventTime, &d.Plugin, &d.Agency, &d.URL, &d.Status, &d.Attempts, &d.LastStatus, &d.LastError,
			&d.Replays, &d.CreatedAt, &d.UpdatedAt, &delivered); err != nil {
			return nil, fmt.Errorf("webhook: deliveries: %w", err)
		}
		d.EventTime, d.CreatedAt, d.UpdatedAt = d.EventTime.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
		if delivered.Valid {
			t := delivered.Time.UTC()
			d.DeliveredAt = &t
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// List returns a plug-in's recent deliveries (only dead letters with
// dead) and its stops, within what actor may see.
func (s *Service) List(ctx context.Context, actor platform.Actor, pluginID string, dead bool) (*Overview, error) {
	agencies, err := s.scope(ctx, actor, pluginID)
	if err != nil {
		return nil, err
	}
	where, args := `plugin_id = $1`, []any{pluginID}
	if dead {
		where += ` AND status = '` + StatusDead + `'`
	}
	sc, sargs := inScope(agencies, 2)
	where += sc
	args = append(args, sargs...)
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE `+where+
		fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, ListLimit), args...)
	if err != nil {
		return nil, fmt.Errorf("webhook: deliveries: %w", err)
	}
	out := &Overview{Plugin: pluginID}
	if out.Deliveries, err = scanDeliveries(rows); err != nil {
		return nil, err
	}
	if err := s.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE plugin_id = $1 AND status = '`+StatusDead+`'`+sc,
		append([]any{pluginID}, sargs...)...).Scan(&out.DeadCount); err != nil {
		return nil, fmt.Errorf("webhook: dead letters: %w", err)
	}
	if out.Stops, err = s.stops(ctx, pluginID, agencies); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) stops(ctx context.Context, pluginID string, agencies []string) ([]Stop, error) {
	sc, sargs := inScope(agencies, 2)
	rows, err := s.db.Read().QueryContext(ctx, `SELECT plugin_id, agency_id, stopped_at, delivery_id FROM webhook_stops WHERE plugin_id = $1`+sc+` ORDER BY agency_id`,
		append([]any{pluginID}, sargs...)...)
	if err != nil {
		return nil, fmt.Errorf("webhook: stops: %w", err)
	}
	var out []Stop
	for rows.Next() {
		var st Stop
		if err := rows.Scan(&st.Plugin, &st.Agency, &st.StoppedAt, &st.Delivery); err != nil {
			rows.Close()
			return nil, fmt.Errorf("webhook: stops: %w", err)
		}
		st.StoppedAt = st.StoppedAt.UTC()
		out = append(out, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res := []Stop{}
	for _, st := range out {
		// Active unless the agency enabled the plug-in after the stop.
		subs, err := s.reg.Subscribers(ctx, st.Agency, "", st.Plugin)
		if err != nil {
			return nil, err
		}
		st.Active = true
		for _, sub := range subs {
			st.Active = !st.StoppedAt.Before(sub.ApprovedAt)
		}
		res = append(res, st)
	}
	return res, nil
}

// ReplayRequest names what to send again: one delivery (any status but
// pending), or every dead letter of the plug-in within the actor's scope.
type ReplayRequest struct {
	Delivery string
	AllDead  bool
}

// Replay makes deliveries pending again with fresh attempts and enqueues
// them, audited (plugin.webhook.replay), in one transaction. A delivery
// whose plug-in is stopped for its agency stops again: enable the plug-in
// first.
func (s *Service) Replay(ctx context.Context, actor platform.Actor, pluginID string, req ReplayRequest) ([]Delivery, error) {
	if (req.Delivery == "") == !req.AllDead {
		return nil, platform.Errorf(platform.CodeInvalid, "name one delivery to replay, or all dead letters")
	}
	agencies, err := s.scope(ctx, actor, pluginID)
	if err != nil {
		return nil, err
	}
	if req.Delivery != "" {
		if !platform.IsUUID(req.Delivery) {
			return nil, platform.Errorf(platform.CodeNotFound, "plug-in %s has no delivery %q", pluginID, req.Delivery)
		}
	}
	ctx = platform.WithActor(ctx, actor)
	var out []Delivery
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		where, args := `plugin_id = $1`, []any{pluginID}
		if req.AllDead {
			where += ` AND status = '` + StatusDead + `'`
		} else {
			where += ` AND id = $2`
			args = append(args, req.Delivery)
		}
		sc, sargs := inScope(agencies, len(args)+1)
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE `+where+sc+` ORDER BY created_at, id`, append(args, sargs...)...)
		if err != nil {
			return fmt.Errorf("webhook: replay: %w", err)
		}
		ds, err := scanDeliveries(rows)
		if err != nil {
			return err
		}
		if req.Delivery != "" {
			if len(ds) == 0 {
				return platform.Errorf(platform.CodeNotFound, "plug-in %s has no delivery %q", pluginID, req.Delivery)
			}
			if ds[0].Status == StatusPending {
				return platform.Errorf(platform.CodeConflict, "delivery %s is still pending: it will be tried again by itself", req.Delivery)
			}
		}
		now := s.clock.Now().UTC()
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = 0, last_error = '', replays = replays + 1, updated_at = $3 WHERE id = $1`,
				d.ID, StatusPending, now); err != nil {
				return fmt.Errorf("webhook: replay: %w", err)
			}
			if err := s.enqueue(ctx, tx, d.ID); err != nil {
				return err
			}
			if _, err := s.log.Append(ctx, tx, audit.Record{Action: "plugin.webhook.replay", Subject: "plugin:" + pluginID, AgencyID: d.Agency,
				Detail: map[string]any{"delivery": d.ID, "event": d.Event, "type": d.Type, "previous_status": d.Status}}); err != nil {
				return err
			}
			d.Status, d.Attempts, d.LastError, d.Replays, d.UpdatedAt = StatusPending, 0, "", d.Replays+1, now
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []Delivery{}
	}
	return out, nil
}

// DeadLetters counts dead letters on the platform (the metrics gauge).
func DeadLetters(ctx context.Context, db *storage.DB) (int, error) {
	var n int
	err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE status = '`+StatusDead+`'`).Scan(&n)
	return n, err
}
