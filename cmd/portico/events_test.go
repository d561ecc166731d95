package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestEventsCLI lists consumers and replays one, on both engines: a consumer
// that has handled three events is moved back to handle from the second.
func TestEventsCLI(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			u := storagetest.MigratedURL(t, d)
			env := map[string]string{"PORTICO_DB": u, "PORTICO_DATA": t.TempDir()}
			if code, _, errOut := cli(t, env, "migrate"); code != 0 {
				t.Fatalf("migrate: %s", errOut)
			}
			ctx := context.Background()
			db, err := storage.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			bus := events.NewBus(platform.SystemClock{})
			var handled int
			bus.Subscribe(events.Consumer{Name: "test.consumer", Types: []string{"gov.portico.test"}, Handle: func(context.Context, events.Event) error {
				handled++
				return nil
			}})
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				for range 3 {
					if err := bus.Emit(ctx, tx, events.Event{Source: "/test", Type: "gov.portico.test"}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			disp, err := events.NewDispatcher(db, bus, events.DispatchConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if err := disp.Register(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := events.Sequence(ctx, db, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := disp.Drive(ctx, "test.consumer"); err != nil || handled != 3 {
				t.Fatalf("drive: handled %d, %v", handled, err)
			}

			for _, tt := range []struct {
				name   string
				args   []string
				code   int
				stdout string
				stderr string
			}{
				{"group help", []string{"events"}, exitUsage, "replay", ""},
				{"list", []string{"events", "list"}, exitOK, "test.consumer  3         0", ""},
				{"list head", []string{"events", "list"}, exitOK, "log head: position 3 (0 committed events waiting", ""},
				{"list json", []string{"events", "list", "--json"}, exitOK, `"position": 3`, ""},
				{"replay help", []string{"events", "replay", "--help"}, exitOK, "-from", ""},
				{"replay no consumer", []string{"events", "replay"}, exitUsage, "", "name the consumer"},
				{"replay no from", []string{"events", "replay", "test.consumer"}, exitUsage, "", "--from is required"},
				{"replay bad from", []string{"events", "replay", "test.consumer", "--from", "two"}, exitUsage, "", `--from must be a whole number of 1 or more, not "two"`},
				{"replay zero", []string{"events", "replay", "test.consumer", "--from", "0"}, exitUsage, "", "--from must be a whole number of 1 or more"},
				{"replay past head", []string{"events", "replay", "test.consumer", "--from", "9"}, exitError, "", "cannot replay from 9: positions run from 1 to 4"},
				{"replay unknown", []string{"events", "replay", "nobody", "--from", "1"}, exitError, "", `there is no consumer "nobody"`},
				{"replay", []string{"events", "replay", "test.consumer", "--from", "2"}, exitOK, "test.consumer will handle events again from position 2 (its cursor was at 3)", ""},
				{"list after replay", []string{"events", "list", "--json"}, exitOK, `"position": 1`, ""},
				{"replay audited", []string{"audit", "list", "--subject", "event-consumer:test.consumer", "--json"}, exitOK, `"action": "events.replay"`, ""},
			} {
				t.Run(tt.name, func(t *testing.T) {
					code, out, errOut := cli(t, env, tt.args...)
					if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
						t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
					}
				})
			}
			// The replayed consumer handles the second and third events again.
			if _, err := disp.Drive(ctx, "test.consumer"); err != nil || handled != 5 {
				t.Fatalf("after replay: handled %d in all, want 5 (%v)", handled, err)
			}
		})
	}
}
