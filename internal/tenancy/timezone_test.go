package tenancy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

func TestTimeZones(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		if loc, err := s.HomeLocation(ctx); err != nil || loc.String() != "UTC" {
			t.Fatalf("home before any jurisdiction = %v, %v; want UTC", loc, err)
		}
		for _, j := range []tenancy.Jurisdiction{
			{ID: "st", Kind: tenancy.State, Name: "State", TimeZone: "America/Chicago"},
			{ID: "east", ParentID: "st", Kind: tenancy.County, Name: "East County", TimeZone: "America/New_York"},
			{ID: "east-city", ParentID: "east", Kind: tenancy.City, Name: "East City"},
			{ID: "west", ParentID: "st", Kind: tenancy.County, Name: "West County"},
		} {
			if _, err := s.CreateJurisdiction(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CreateAgency(ctx, tenancy.Agency{ID: "east-dmv", JurisdictionID: "east-city", Name: "East DMV"}); err != nil {
			t.Fatal(err)
		}
		tests := []struct{ id, want string }{
			{"st", "America/Chicago"},
			{"east", "America/New_York"},
			{"east-city", "America/New_York"}, // inherited from its county
			{"west", "America/Chicago"},       // inherited from the state
		}
		for _, tt := range tests {
			loc, err := s.Location(ctx, tt.id)
			if err != nil || loc.String() != tt.want {
				t.Errorf("Location(%s) = %v, %v; want %s", tt.id, loc, err, tt.want)
			}
		}
		if loc, err := s.AgencyLocation(ctx, "east-dmv"); err != nil || loc.String() != "America/New_York" {
			t.Errorf("AgencyLocation = %v, %v", loc, err)
		}
		if loc, err := s.HomeLocation(ctx); err != nil || loc.String() != "America/Chicago" {
			t.Errorf("HomeLocation = %v, %v", loc, err)
		}
		// Setting a zone takes effect at once in this process (the cache
		// is cleared), and clearing it inherits again.
		if err := s.SetTimeZone(ctx, "west", "America/Denver"); err != nil {
			t.Fatal(err)
		}
		if loc, _ := s.Location(ctx, "west"); loc.String() != "America/Denver" {
			t.Errorf("after set, west = %v", loc)
		}
		if err := s.SetTimeZone(ctx, "east", ""); err != nil {
			t.Fatal(err)
		}
		if loc, _ := s.Location(ctx, "east-city"); loc.String() != "America/Chicago" {
			t.Errorf("after clearing east, east-city = %v", loc)
		}
		j, err := s.Jurisdiction(ctx, "west")
		if err != nil || j.TimeZone != "America/Denver" {
			t.Errorf("Jurisdiction(west).TimeZone = %q, %v", j.TimeZone, err)
		}

		bad := []struct {
			name, id, zone string
			code           platform.Code
		}{
			{"not a zone", "st", "Mars/Olympus_Mons", platform.CodeInvalid},
			{"machine local", "st", "Local", platform.CodeInvalid},
			{"path traversal", "st", "../../etc/passwd", platform.CodeInvalid},
			{"unknown jurisdiction", "nowhere", "America/Chicago", platform.CodeNotFound},
		}
		for _, b := range bad {
			err := s.SetTimeZone(ctx, b.id, b.zone)
			if platform.ErrorCode(err) != b.code {
				t.Errorf("%s: SetTimeZone = %v; want %s", b.name, err, b.code)
			}
		}
		_, err = s.CreateJurisdiction(ctx, tenancy.Jurisdiction{ID: "x", Kind: tenancy.State, Name: "X", TimeZone: "CST6CDT7"})
		if platform.ErrorCode(err) != platform.CodeInvalid || !strings.Contains(err.Error(), "IANA") {
			t.Errorf("create with a bad zone = %v", err)
		}
		if _, err := s.Location(ctx, "nowhere"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("Location(nowhere) = %v", err)
		}
	})
}
