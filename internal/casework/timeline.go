package casework

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/portico-gov/portico/internal/platform"
)

// Entry is one line of a case's timeline.
type Entry struct {
	ID       int64          `json:"id"`
	Kind     string         `json:"kind"`
	Actor    string         `json:"actor"`
	Internal bool           `json:"internal"`
	Body     string         `json:"body,omitempty"`
	Detail   map[string]any `json:"detail"`
	At       time.Time      `json:"at"`
	// By is who made the entry, as NameActors worked it out (zero until
	// then).
	By Who `json:"by"`
}

// Action names an automatic timeline entry's origin (Detail["action"]).
func (e Entry) Action() string { s, _ := e.Detail["action"].(string); return s }

// Str returns a string from Detail.
func (e Entry) Str(key string) string { s, _ := e.Detail[key].(string); return s }

// Text returns a bilingual text from Detail (a manifest message).
func (e Entry) Text(key, lang string) string {
	m, _ := e.Detail[key].(map[string]any)
	if s, _ := m[lang].(string); s != "" {
		return s
	}
	s, _ := m["en"].(string)
	return s
}

// Amount returns a money amount (minor units) from Detail.
func (e Entry) Amount(key string) int64 {
	f, _ := e.Detail[key].(float64)
	return int64(f)
}

func (s *Service) entry(ctx context.Context, tx *sql.Tx, caseID, kind string, internal bool, body string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO case_entries (case_id, agency_id, kind, actor, internal, body, detail, at)
		VALUES ($1, (SELECT agency_id FROM cases WHERE id = $1), $2, $3, $4, $5, $6, $7)`,
		caseID, kind, platform.ActorFrom(ctx).String(), internal, body, string(b), s.clock.Now().UTC())
	if err != nil {
		return fmt.Errorf("casework: timeline: %w", err)
	}
	return nil
}

// Timeline returns the case's entries, oldest first; internal ones only
// when internal is true (staff).
func (s *Service) Timeline(ctx context.Context, caseID string, internal bool) ([]Entry, error) {
	q := `SELECT id, kind, actor, internal, body, detail, at FROM case_entries WHERE case_id = $1`
	if !internal {
		q += ` AND internal = FALSE`
	}
	rows, err := s.db.Read().QueryContext(ctx, q+` ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("casework: timeline: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var raw []byte
		if err := rows.Scan(&e.ID, &e.Kind, &e.Actor, &e.Internal, &e.Body, &raw, &e.At); err != nil {
			return nil, fmt.Errorf("casework: timeline: %w", err)
		}
		if err := json.Unmarshal(raw, &e.Detail); err != nil {
			return nil, fmt.Errorf("casework: timeline: %w", err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
