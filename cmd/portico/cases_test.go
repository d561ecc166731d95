package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/platform"
)

// openCase submits an application as the citizen with email would (the
// applying block's part: the application row with its frozen answers) and
// opens its case in the same transaction, as submission does.
func openCase(t *testing.T, a *app.App, id, email, service string, answers map[string]map[string]any) casework.Case {
	t.Helper()
	ctx := context.Background()
	acct, err := a.Identity.AccountByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := a.Catalog.Latest(ctx, service)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(answers)
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: acct.ID})
	var c casework.Case
	err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
		now := a.Clock.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at, submitted_at)
			VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $7, $7, $7)`, id, svc.ID, svc.Version, svc.AgencyID, acct.ID, string(b), now); err != nil {
			return err
		}
		var err error
		c, err = a.Casework.Open(ctx, tx, casework.Opening{ApplicationID: id, AccountID: acct.ID, AgencyID: svc.AgencyID, ServiceID: svc.ID, Version: svc.Version, Manifest: svc.Manifest})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE applications SET reference = $2 WHERE id = $1`, id, c.Reference)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// vehicleAnswers are a complete vehicle registration renewal.
var vehicleAnswers = map[string]map[string]any{
	"vehicle":   {"plate": "ABC123", "type": "car"},
	"insurance": {"insurer": "Acme Mutual", "policy": "P-12345"},
}
