package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/storage"
)

// TestPluginDeliveriesCLI runs `portico plugin deliveries` and `portico
// plugin replay`, their successes and errors, against one database with a
// dead letter in it (as a plug-in down for a day leaves one).
func TestPluginDeliveriesCLI(t *testing.T) {
	data, env := seededData(t)
	ex := filepath.Join("..", "..", "examples", "plugins", "vehicle-registry", "plugin.yaml")
	for _, args := range [][]string{{"plugin", "register", ex}, {"plugin", "enable", "vehicle-registry", "--agency", "dmv", "--data", "name"}} {
		if code, _, errOut := cli(t, env, args...); code != exitOK {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	db, err := storage.Open(context.Background(), "sqlite://"+filepath.Join(data, "portico.db"))
	if err != nil {
		t.Fatal(err)
	}
	const dead = "0190a1b2-0000-7000-8000-0000000dead1"
	now := time.Now().UTC()
	if _, err := db.Write().ExecContext(context.Background(), `INSERT INTO webhook_deliveries (id, event_id, event_type, event_time, plugin_id, agency_id, url, body, status, attempts, last_status, last_error, created_at, updated_at)
		VALUES ($1, '0190a1b2-0000-7000-8000-00000000e0e1', 'gov.portico.case.transitioned', $2, 'vehicle-registry', 'dmv', 'http://127.0.0.1:8091/portico/events', '{}', 'dead', 13, 503, 'answered 503 Service Unavailable', $2, $2)`,
		dead, now); err != nil {
		t.Fatal(err)
	}
	db.Close()
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout, errs string
	}{
		{"deliveries no id", []string{"plugin", "deliveries"}, exitUsage, "", "name one plug-in id"},
		{"deliveries unknown", []string{"plugin", "deliveries", "nope"}, exitError, "", `there is no plug-in "nope"`},
		{"deliveries", []string{"plugin", "deliveries", "vehicle-registry"}, exitOK, dead + "  gov.portico.case.transitioned  dmv     dead", ""},
		{"deliveries dead json", []string{"plugin", "deliveries", "vehicle-registry", "--dead", "--json"}, exitOK, `"dead": 1`, ""},
		{"replay neither", []string{"plugin", "replay", "vehicle-registry"}, exitUsage, "", "give either --delivery DID or --all-dead"},
		{"replay both", []string{"plugin", "replay", "vehicle-registry", "--delivery", dead, "--all-dead"}, exitUsage, "", "give either --delivery DID or --all-dead"},
		{"replay bad id", []string{"plugin", "replay", "vehicle-registry", "--delivery", "x"}, exitError, "", `has no delivery "x"`},
		{"replay unknown id", []string{"plugin", "replay", "vehicle-registry", "--delivery", "0190a1b2-0000-7000-8000-000000000000"}, exitError, "", "has no delivery"},
		{"replay", []string{"plugin", "replay", "vehicle-registry", "--delivery", dead, "--json"}, exitOK, `"status": "pending"`, ""},
		{"replay pending", []string{"plugin", "replay", "vehicle-registry", "--delivery", dead}, exitError, "", "is still pending"},
		{"replay all dead none", []string{"plugin", "replay", "vehicle-registry", "--all-dead"}, exitOK, "has no dead letters to replay", ""},
		{"deliveries dead none", []string{"plugin", "deliveries", "vehicle-registry", "--dead"}, exitOK, "has no dead letters", ""},
		{"audit", []string{"audit", "list", "--subject", "plugin:vehicle-registry", "--json"}, exitOK, `"action": "plugin.webhook.replay"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.errs) {
				t.Fatalf("portico %s\n exit %d (want %d)\n stdout: %s\n stderr: %s\n want stdout containing %q, stderr containing %q",
					strings.Join(tt.args, " "), code, tt.code, out, errOut, tt.stdout, tt.errs)
			}
		})
	}
}
