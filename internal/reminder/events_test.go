package reminder_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestObligationEvents: setting, moving, completing and cancelling
// obligations emit the events the outcome block counts, without account.
func TestObligationEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, reminder.Config{Bus: events.NewBus(platform.NewFakeClock(start))})
		due := reminder.Date{Year: 2027, Month: 3, Day: 10}
		f.set(t, vehicle(due))
		f.set(t, vehicle(due)) // unchanged: nothing
		f.set(t, vehicle(due.AddDays(5)))
		late := vehicle(due)
		late.Source, late.Schedule = "document:reg-2", reminder.NoReminders
		f.set(t, late)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return f.svc.Complete(ctx, tx, "ana", "document:reg-1") }); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(due.AddDays(1).Time(time.UTC).Add(12 * time.Hour))
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return f.svc.Complete(ctx, tx, "ana", "document:reg-2") }); err != nil {
			t.Fatal(err)
		}
		if _, err := events.Sequence(ctx, db, 100); err != nil {
			t.Fatal(err)
		}
		evs, err := events.Read(ctx, db, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			var d map[string]any
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			if _, ok := d["account"]; ok {
				t.Errorf("%s carries the account", e.Type)
			}
			got = append(got, e.Type[len("gov.portico.obligation."):]+" "+d["due"].(string)+" "+d["status"].(string)+" "+word("reminded", d["reminded"])+" "+word("on_time", d["on_time"]))
		}
		want := []string{
			"set 2027-03-10 open reminded -",
			"closed 2027-03-10 cancelled reminded -", // moved …
			"set 2027-03-15 open reminded -",         // … to the 15th
			"set 2027-03-10 open - -",
			"closed 2027-03-15 done reminded on_time",
			"closed 2027-03-10 done - -", // a day late
		}
		if len(got) != len(want) {
			t.Fatalf("events:\n%q\nwant\n%q", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("event %d = %q, want %q", i, got[i], want[i])
			}
		}
	})
}

func word(name string, v any) string {
	if v == true {
		return name
	}
	return "-"
}
