package casework

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// SweepBatch is how many due cases one sweep query reads.
const SweepBatch = 200

// SweepSLA handles every open case whose SLA has passed and that is not
// yet marked overdue, oldest due first, and returns how many it handled.
// It reads through the cases_sla partial index (open cases not yet
// overdue, by due time), so its cost follows the number of cases falling
// due, not the number of cases.
//
// For each such case, in a transaction of its own: if the state has a
// system transition whose guard holds (a fee left unpaid past its
// deadline, say), the system takes it; otherwise the case is marked
// overdue, the timeline and audit log say so and EventOverdue is emitted
// once for this breach (entering another state clears the mark).
func (s *Service) SweepSLA(ctx context.Context) (int, error) {
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "sla"})
	total := 0
	for {
		now := s.clock.Now().UTC()
		rows, err := s.db.Read().QueryContext(ctx, `SELECT id FROM cases WHERE overdue = FALSE AND closed_at IS NULL AND sla_due_at <= $1
			ORDER BY sla_due_at LIMIT $2`, now, SweepBatch)
		if err != nil {
			return total, fmt.Errorf("casework: sla sweep: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return total, fmt.Errorf("casework: sla sweep: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("casework: sla sweep: %w", err)
		}
		for _, id := range ids {
			if err := s.breach(ctx, id); err != nil {
				return total, err
			}
			total++
		}
		if len(ids) < SweepBatch {
			return total, nil
		}
	}
}

// breach handles one case past its SLA (see SweepSLA). The conditions are
// checked again under the lock: another worker may have got there first.
func (s *Service) breach(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.lockCase(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		if c.ClosedAt != nil || c.Overdue || c.SLADueAt == nil || c.SLADueAt.After(now) {
			return nil
		}
		next, err := s.automatic(ctx, tx, c)
		if err != nil {
			return err
		}
		if next.State != c.State {
			return nil
		}
		c.Overdue, c.UpdatedAt = true, now
		if err := s.save(ctx, tx, c); err != nil {
			return err
		}
		detail := map[string]any{"state": c.State, "due": c.SLADueAt.Format(time.RFC3339)}
		if err := s.entry(ctx, tx, c.ID, "overdue", true, "", detail); err != nil {
			return err
		}
		if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "case.overdue", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
			Detail: map[string]any{"reference": c.Reference, "state": c.State}}); err != nil {
			return err
		}
		return s.emit(ctx, tx, c, EventOverdue, detail)
	})
}

// SLAArgs is the periodic job that sweeps cases past their SLA.
type SLAArgs struct{}

// Kind implements river.JobArgs.
func (SLAArgs) Kind() string { return "casework.sla" }

// SLAWorker runs SweepSLA.
type SLAWorker struct {
	river.WorkerDefaults[SLAArgs]
	Cases *Service
}

// Work implements river.Worker.
func (w *SLAWorker) Work(ctx context.Context, _ *river.Job[SLAArgs]) error {
	_, err := w.Cases.SweepSLA(ctx)
	return err
}

// QueueFilter narrows and orders the staff queue.
type QueueFilter struct {
	Agencies []string // the staff member's agencies; required
	Service  string
	State    string
	SLA      string // SLAOnTime, SLADueSoon, SLAOverdue or ""
	Assignee string // an account id, "none" or ""
	Closed   bool   // closed cases instead of open ones
	Desc     bool   // latest SLA due first
	Page     int    // from 1
	PerPage  int
}

// QueuePage is one page of the queue.
type QueuePage struct {
	Cases []Case
	Total int
	Page  int
	Pages int
}

// Queue lists cases of the filter's agencies, by SLA due time (cases
// without one last), then oldest first. Overdue means marked overdue or
// past due; due soon, due within DueSoon; on time, the rest (including
// cases waiting on the citizen, whose clock is stopped).
func (s *Service) Queue(ctx context.Context, f QueueFilter) (QueuePage, error) {
	if f.PerPage <= 0 || f.PerPage > 100 {
		f.PerPage = 25
	}
	if f.Page < 1 {
		f.Page = 1
	}
	out := QueuePage{Page: f.Page}
	if len(f.Agencies) == 0 {
		return out, nil
	}
	now := s.clock.Now().UTC()
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	in := make([]string, len(f.Agencies))
	for i, a := range f.Agencies {
		in[i] = arg(a)
	}
	where = append(where, "agency_id IN ("+strings.Join(in, ", ")+")")
	if f.Closed {
		where = append(where, "closed_at IS NOT NULL")
	} else {
		where = append(where, "closed_at IS NULL")
	}
	if f.Service != "" {
		where = append(where, "service_id = "+arg(f.Service))
	}
	if f.State != "" {
		where = append(where, "state = "+arg(f.State))
	}
	switch f.Assignee {
	case "":
	case "none":
		where = append(where, "assignee IS NULL")
	default:
		where = append(where, "assignee = "+arg(f.Assignee))
	}
	switch f.SLA {
	case SLAOverdue:
		where = append(where, "(overdue = TRUE OR sla_due_at <= "+arg(now)+")")
	case SLADueSoon:
		where = append(where, "overdue = FALSE AND sla_due_at > "+arg(now)+" AND sla_due_at <= "+arg(now.Add(DueSoon)))
	case SLAOnTime:
		where = append(where, "overdue = FALSE AND (sla_due_at IS NULL OR sla_due_at > "+arg(now.Add(DueSoon))+")")
	}
	cond := strings.Join(where, " AND ")
	if err := s.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM cases WHERE `+cond, args...).Scan(&out.Total); err != nil {
		return out, fmt.Errorf("casework: queue: %w", err)
	}
	out.Pages = (out.Total + f.PerPage - 1) / f.PerPage
	dir := "ASC"
	if f.Desc {
		dir = "DESC"
	}
	q := `SELECT ` + caseColumns + ` FROM cases WHERE ` + cond +
		` ORDER BY (sla_due_at IS NULL), sla_due_at ` + dir + `, opened_at, id LIMIT ` + arg(f.PerPage) + ` OFFSET ` + arg((f.Page-1)*f.PerPage)
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return out, fmt.Errorf("casework: queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return out, fmt.Errorf("casework: queue: %w", err)
		}
		out.Cases = append(out.Cases, c)
	}
	return out, rows.Err()
}
