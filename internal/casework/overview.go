package casework

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// RecentActivity is how many of an agency's latest timeline entries the
// console shows.
const RecentActivity = 6

// AgencyOverview is the state of one agency's work, for the console.
type AgencyOverview struct {
	AgencyID string
	// Queues are the agency's open cases by service and state (one per
	// pair with at least one case), by service then state.
	Queues []QueueCount
	// Open and Overdue total the queues. Overdue cases are marked overdue
	// or past their SLA (as the queue's "overdue" filter).
	Open, Overdue int
	// Recent are the latest timeline entries across the agency's cases,
	// newest first, with their actors named; only for staff of the agency
	// (a platform administrator sees the counts of every agency).
	Recent []Activity
}

// QueueCount is how many open cases of one service are in one state.
type QueueCount struct {
	ServiceID string
	State     string
	Open      int
	Overdue   int
}

// Activity is one timeline entry and the case it belongs to.
type Activity struct {
	Case  Case
	Entry Entry
}

// Overview returns the console's picture of the agencies actor works in:
// for staff, each agency they hold a role in, with its queues, overdue
// cases and recent activity; for a platform administrator, also every
// agency of all (the ids the caller lists from the tenancy block) with
// counts only, since the administrator reads no case of an agency they
// hold no role in. Anyone else is forbidden. Counting is index-bounded
// (cases_queue: agency, open, state) and recent activity reads the
// agency's newest entries through case_entries_agency.
//
// The listing is audited (case.overview.read): it names applicants in the
// recent activity.
func (s *Service) Overview(ctx context.Context, actor platform.Actor, all []string) ([]AgencyOverview, error) {
	if actor.Kind != platform.ActorStaff || actor.ID == "" {
		return nil, platform.Errorf(platform.CodeForbidden, "the console is for staff")
	}
	mine := actor.Agencies()
	agencies := slices.Clone(mine)
	if actor.PlatformAdmin {
		for _, a := range all {
			if !slices.Contains(agencies, a) {
				agencies = append(agencies, a)
			}
		}
	}
	now := s.clock.Now().UTC()
	var out []AgencyOverview
	var shown, applicants []string
	for _, ag := range agencies {
		o := AgencyOverview{AgencyID: ag}
		rows, err := s.db.Read().QueryContext(ctx, `SELECT service_id, state, COUNT(*),
			SUM(CASE WHEN overdue = TRUE OR sla_due_at <= $2 THEN 1 ELSE 0 END)
			FROM cases WHERE agency_id = $1 AND closed_at IS NULL GROUP BY service_id, state`, ag, now)
		if err != nil {
			return nil, fmt.Errorf("casework: overview: %w", err)
		}
		for rows.Next() {
			var q QueueCount
			if err := rows.Scan(&q.ServiceID, &q.State, &q.Open, &q.Overdue); err != nil {
				rows.Close()
				return nil, fmt.Errorf("casework: overview: %w", err)
			}
			o.Queues = append(o.Queues, q)
			o.Open += q.Open
			o.Overdue += q.Overdue
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("casework: overview: %w", err)
		}
		sort.Slice(o.Queues, func(i, j int) bool {
			a, b := o.Queues[i], o.Queues[j]
			if a.ServiceID != b.ServiceID {
				return a.ServiceID < b.ServiceID
			}
			return a.State < b.State
		})
		if slices.Contains(mine, ag) {
			if o.Recent, err = s.recent(ctx, ag); err != nil {
				return nil, err
			}
			for _, a := range o.Recent {
				shown = append(shown, a.Case.ID)
				if a.Entry.By.Kind == ByApplicant && !slices.Contains(applicants, a.Case.AccountID) {
					applicants = append(applicants, a.Case.AccountID)
				}
			}
		}
		out = append(out, o)
	}
	subject := "agencies:" + strings.Join(mine, ",")
	if len(mine) == 0 {
		subject = "platform" // an administrator's counts of every agency
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "case.overview.read",
		Subject: subject,
		Detail:  map[string]any{"agencies": len(agencies), "cases": compact(shown), "applicants": applicants}}); err != nil {
		return nil, err
	}
	return out, nil
}

// compact returns ids without repeats, in order.
func compact(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// recent returns agency's latest timeline entries with their cases and
// actors named.
func (s *Service) recent(ctx context.Context, agency string) ([]Activity, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, case_id, kind, actor, internal, body, detail, at FROM case_entries
		WHERE agency_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, agency, RecentActivity)
	if err != nil {
		return nil, fmt.Errorf("casework: recent activity: %w", err)
	}
	type row struct {
		caseID string
		e      Entry
	}
	var got []row
	for rows.Next() {
		var r row
		var raw []byte
		if err := rows.Scan(&r.e.ID, &r.caseID, &r.e.Kind, &r.e.Actor, &r.e.Internal, &r.e.Body, &raw, &r.e.At); err != nil {
			rows.Close()
			return nil, fmt.Errorf("casework: recent activity: %w", err)
		}
		if err := json.Unmarshal(raw, &r.e.Detail); err != nil {
			rows.Close()
			return nil, fmt.Errorf("casework: recent activity: %w", err)
		}
		r.e.At = r.e.At.UTC()
		got = append(got, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("casework: recent activity: %w", err)
	}
	staff, err := s.staffOf(ctx, agency)
	if err != nil {
		return nil, err
	}
	cases := map[string]Case{}
	applicants := map[string]Applicant{}
	var out []Activity
	for _, r := range got {
		c, ok := cases[r.caseID]
		if !ok {
			if c, err = s.Case(ctx, r.caseID); err != nil {
				return nil, err
			}
			cases[r.caseID] = c
		}
		a := Activity{Case: c, Entry: r.e}
		var applicant Applicant
		if WhoOf(c, r.e).Kind == ByApplicant && s.deps.People != nil {
			if applicant, ok = applicants[c.AccountID]; !ok {
				if applicant, err = s.deps.People.Applicant(ctx, c.AccountID); err != nil {
					return nil, err
				}
				applicants[c.AccountID] = applicant
			}
		}
		one := []Entry{a.Entry}
		nameWith(staff, c, one, applicant)
		a.Entry = one[0]
		out = append(out, a)
	}
	return out, nil
}
