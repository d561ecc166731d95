package reminder_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestJurisdictionZone: due dates, "today" and send times follow the zone
// the jurisdiction sets (Config.Zone), across a DST change, and a due date
// lasts until the end of its local day.
func TestJurisdictionZone(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	honolulu, err := time.LoadLocation("Pacific/Honolulu")
	if err != nil {
		t.Fatal(err)
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		zone := chicago
		f := newFixture(t, db, reminder.Config{Zone: func(context.Context) *time.Location { return zone }})
		due := reminder.Date{Year: 2027, Month: time.March, Day: 14} // US DST starts that morning
		tests := []struct {
			name  string
			now   time.Time
			loc   *time.Location
			today reminder.Date
			lead  string
		}{
			// 03:00 UTC on the 14th is still the evening of the 13th in
			// Chicago: due tomorrow, not today.
			{"evening before, local", time.Date(2027, 3, 14, 3, 0, 0, 0, time.UTC), chicago, reminder.Date{Year: 2027, Month: 3, Day: 13}, "This is due on March 14, 2027."},
			{"local morning of the day", time.Date(2027, 3, 14, 15, 0, 0, 0, time.UTC), chicago, due, "This is due today."},
			// 04:59 UTC on the 15th is 23:59 CDT on the 14th: still due today.
			{"last minute of the local day", time.Date(2027, 3, 15, 4, 59, 0, 0, time.UTC), chicago, due, "This is due today."},
			{"after local midnight: overdue", time.Date(2027, 3, 15, 5, 0, 0, 0, time.UTC), chicago, reminder.Date{Year: 2027, Month: 3, Day: 15}, "This was due on March 14, 2027."},
			// The same instant is still the 14th in Honolulu.
			{"another jurisdiction's zone", time.Date(2027, 3, 15, 5, 0, 0, 0, time.UTC), honolulu, due, "This is due today."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				zone = tt.loc
				f.clock.Set(tt.now)
				if got := f.svc.Today(); got != tt.today {
					t.Fatalf("Today = %v; want %v", got, tt.today)
				}
				msg := f.svc.Compose(reminder.Obligation{ID: "o", Title: reminder.Text{EN: "Renew", ES: "Renovar"}, Due: due}, reminder.Contact{Email: "a@example.com", Lang: "en"})
				if !strings.Contains(msg.Text, tt.lead) {
					t.Fatalf("email says:\n%s\nwant %q", msg.Text, tt.lead)
				}
			})
		}
		// Send times are 09:00 local on both sides of the DST change, also
		// for an offset of whole days that crosses it.
		zone = chicago
		if got := f.svc.SendTime(reminder.Date{Year: 2027, Month: 3, Day: 13}, 0); !got.Equal(time.Date(2027, 3, 13, 15, 0, 0, 0, time.UTC)) {
			t.Errorf("send time before DST = %v; want 15:00 UTC (09:00 CST)", got)
		}
		if got := f.svc.SendTime(due, 0); !got.Equal(time.Date(2027, 3, 14, 14, 0, 0, 0, time.UTC)) {
			t.Errorf("send time after DST = %v; want 14:00 UTC (09:00 CDT)", got)
		}
		if got := f.svc.SendTime(reminder.Date{Year: 2027, Month: 3, Day: 21}, -7*reminder.Day); !got.Equal(time.Date(2027, 3, 14, 14, 0, 0, 0, time.UTC)) {
			t.Errorf("7 days before March 21 = %v; want 14:00 UTC on March 14 (09:00 CDT)", got)
		}
	})
}
