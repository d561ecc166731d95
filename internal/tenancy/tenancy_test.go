package tenancy_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

func newService(t *testing.T, db *storage.DB) (*tenancy.Service, *audit.Log) {
	clock := platform.NewFakeClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	log := audit.New(db, clock, nil)
	svc, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	return svc, log
}

func TestCreateJurisdictionRules(t *testing.T) {
	tests := []struct {
		name string
		j    tenancy.Jurisdiction
		code platform.Code // "" = success
		msg  string
	}{
		{"state", tenancy.Jurisdiction{ID: "st", Kind: tenancy.State, Name: "State"}, "", ""},
		{"county in state", tenancy.Jurisdiction{ID: "co", ParentID: "st", Kind: tenancy.County, Name: "County"}, "", ""},
		{"city in county with zips", tenancy.Jurisdiction{ID: "ci", ParentID: "co", Kind: tenancy.City, Name: "City", ZIPs: []string{"70101", " 70102 ", "70101"}}, "", ""},
		{"town in state", tenancy.Jurisdiction{ID: "tw", ParentID: "st", Kind: tenancy.Town, Name: "Town"}, "", ""},
		{"duplicate", tenancy.Jurisdiction{ID: "st", Kind: tenancy.State, Name: "Again"}, platform.CodeConflict, "already exists"},
		{"state with parent", tenancy.Jurisdiction{ID: "s2", ParentID: "st", Kind: tenancy.State, Name: "S2"}, platform.CodeInvalid, "no parent"},
		{"county without parent", tenancy.Jurisdiction{ID: "c2", Kind: tenancy.County, Name: "C2"}, platform.CodeInvalid, "needs a parent"},
		{"county in city", tenancy.Jurisdiction{ID: "c3", ParentID: "ci", Kind: tenancy.County, Name: "C3"}, platform.CodeInvalid, "cannot be inside a city"},
		{"city in missing parent", tenancy.Jurisdiction{ID: "c4", ParentID: "nowhere", Kind: tenancy.City, Name: "C4"}, platform.CodeInvalid, "does not exist"},
		{"bad kind", tenancy.Jurisdiction{ID: "k", Kind: "village", Name: "K"}, platform.CodeInvalid, "kind"},
		{"bad id", tenancy.Jurisdiction{ID: "Bad ID", Kind: tenancy.State, Name: "X"}, platform.CodeInvalid, "lowercase"},
		{"id with trailing hyphen", tenancy.Jurisdiction{ID: "x-", Kind: tenancy.State, Name: "X"}, platform.CodeInvalid, "lowercase"},
		{"empty name", tenancy.Jurisdiction{ID: "x", Kind: tenancy.State, Name: "  "}, platform.CodeInvalid, "name is required"},
		{"long name", tenancy.Jurisdiction{ID: "x", Kind: tenancy.State, Name: strings.Repeat("n", 201)}, platform.CodeInvalid, "200"},
		{"bad zip", tenancy.Jurisdiction{ID: "x", Kind: tenancy.State, Name: "X", ZIPs: []string{"7010"}}, platform.CodeInvalid, "five digits"},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s, log := newService(t, db)
		ctx := context.Background()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.CreateJurisdiction(ctx, tt.j)
				if tt.code == "" {
					if err != nil {
						t.Fatal(err)
					}
					stored, err := s.Jurisdiction(ctx, tt.j.ID)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(stored.ZIPs, got.ZIPs) {
						t.Fatalf("stored ZIPs %v, returned %v", stored.ZIPs, got.ZIPs)
					}
					return
				}
				if platform.ErrorCode(err) != tt.code || !strings.Contains(platform.ErrorMessage(err), tt.msg) {
					t.Fatalf("error = %v (code %s), want %s containing %q", err, platform.ErrorCode(err), tt.code, tt.msg)
				}
			})
		}
		ci, _ := s.Jurisdiction(ctx, "ci")
		if !slices.Equal(ci.ZIPs, []string{"70101", "70102"}) {
			t.Errorf("ZIPs not trimmed and deduplicated: %v", ci.ZIPs)
		}
		entries, err := log.List(ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 4 {
			t.Errorf("audit entries = %d, want one per created jurisdiction (4)", len(entries))
		}
	})
}

func TestResolveZIP(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s, _ := newService(t, db)
		ctx := context.Background()
		if _, err := demo.Seed(ctx, s); err != nil {
			t.Fatal(err)
		}
		// Seeding twice changes nothing.
		if res, err := demo.Seed(ctx, s); err != nil || res.Jurisdictions+res.Agencies != 0 {
			t.Fatalf("second seed = %+v, %v", res, err)
		}
		tests := []struct {
			zip  string
			want []string
			code platform.Code
		}{
			{"70101", []string{"springfield", "adams-county", "example"}, ""},
			{"70101-1234", []string{"springfield", "adams-county", "example"}, ""},
			{" 70210 ", []string{"millbrook", "baker-county", "example"}, ""},
			{"70290", []string{"baker-county", "example"}, ""},
			{"12345", nil, ""},
			{"", nil, platform.CodeInvalid},
			{"7010", nil, platform.CodeInvalid},
			{"abcde", nil, platform.CodeInvalid},
		}
		for _, tt := range tests {
			js, err := s.ResolveZIP(ctx, tt.zip)
			if platform.ErrorCode(err) != tt.code {
				t.Errorf("ResolveZIP(%q) error = %v, want code %q", tt.zip, err, tt.code)
				continue
			}
			var ids []string
			for _, j := range js {
				ids = append(ids, j.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ResolveZIP(%q) = %v, want %v", tt.zip, ids, tt.want)
			}
		}
	})
}

func TestAgencies(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s, _ := newService(t, db)
		ctx := context.Background()
		if _, err := demo.Seed(ctx, s); err != nil {
			t.Fatal(err)
		}
		all, err := s.Agencies(ctx, "")
		if err != nil || len(all) != len(demo.Agencies) {
			t.Fatalf("Agencies = %d, %v; want %d", len(all), err, len(demo.Agencies))
		}
		state, err := s.Agencies(ctx, "example")
		if err != nil || len(state) != 4 {
			t.Fatalf("state agencies = %v, %v", state, err)
		}
		for _, a := range state {
			if a.JurisdictionID != "example" {
				t.Errorf("agency %s of %s listed for example", a.ID, a.JurisdictionID)
			}
		}
		_, err = s.CreateAgency(ctx, tenancy.Agency{ID: "dmv", JurisdictionID: "example", Name: "Again"})
		if platform.ErrorCode(err) != platform.CodeConflict {
			t.Errorf("duplicate agency: %v", err)
		}
		_, err = s.CreateAgency(ctx, tenancy.Agency{ID: "x", JurisdictionID: "atlantis", Name: "X"})
		if platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("agency in missing jurisdiction: %v", err)
		}
		if _, err := s.Agency(ctx, "nope"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("missing agency: %v", err)
		}
	})
}

func TestAgencyContact(t *testing.T) {
	good := tenancy.Contact{Address: "100 Main Street\r\nSpringfield, EX 70101", Phone: "(555) 010-5200", Email: "clerk@adams.example.gov",
		Website: "https://adams.example.gov/clerk", Hours: "Monday to Friday, 8 a.m. to 4:30 p.m.", HoursES: "De lunes a viernes, de 8:00 a 16:30"}
	tests := []struct {
		name    string
		edit    func(c *tenancy.Contact)
		field   string // the field named in the error; "" means accepted
		wantErr string
	}{
		{name: "all given", edit: func(*tenancy.Contact) {}},
		{name: "none given", edit: func(c *tenancy.Contact) { *c = tenancy.Contact{} }},
		{name: "email without @", edit: func(c *tenancy.Contact) { c.Email = "clerk.adams.example.gov" }, field: "email", wantErr: "not an email address"},
		{name: "email with a name", edit: func(c *tenancy.Contact) { c.Email = "Clerk <clerk@adams.example.gov>" }, field: "email", wantErr: "not an email address"},
		{name: "website without scheme", edit: func(c *tenancy.Contact) { c.Website = "adams.example.gov" }, field: "website", wantErr: "https://"},
		{name: "javascript website", edit: func(c *tenancy.Contact) { c.Website = "javascript:alert(1)" }, field: "website", wantErr: "https://"},
		{name: "phone with a newline", edit: func(c *tenancy.Contact) { c.Phone = "555\n0100" }, field: "phone", wantErr: "control characters"},
		{name: "hours too long", edit: func(c *tenancy.Contact) { c.Hours = strings.Repeat("Monday ", 60) }, field: "hours", wantErr: "at most 400"},
		{name: "invalid UTF-8", edit: func(c *tenancy.Contact) { c.HoursES = "lunes \xff" }, field: "hours_es", wantErr: "UTF-8"},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s, log := newService(t, db)
		ctx := context.Background()
		if _, err := demo.Seed(ctx, s); err != nil {
			t.Fatal(err)
		}
		clerk, err := s.Agency(ctx, "adams-clerk")
		if err != nil || clerk.Contact.Empty() || clerk.Contact.HoursIn("es") == clerk.Contact.HoursIn("en") {
			t.Fatalf("demo agency contact = %+v, %v", clerk.Contact, err)
		}
		for _, tt := range tests {
			c := good
			tt.edit(&c)
			got, err := s.SetContact(ctx, "adams-clerk", c)
			if tt.field != "" {
				var pe *platform.Error
				if !errors.As(err, &pe) || pe.Field != tt.field || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("%s: err = %v; want invalid %s (%q)", tt.name, err, tt.field, tt.wantErr)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			if c.Address != "" && !slices.Equal(got.Contact.AddressLines(), []string{"100 Main Street", "Springfield, EX 70101"}) {
				t.Errorf("%s: address lines = %q", tt.name, got.Contact.AddressLines())
			}
			if c.Address == "" && !got.Contact.Empty() {
				t.Errorf("%s: contact not cleared: %+v", tt.name, got.Contact)
			}
			list, _ := s.Agencies(ctx, "adams-county")
			if i := slices.IndexFunc(list, func(a tenancy.Agency) bool { return a.ID == "adams-clerk" }); i < 0 || list[i].Contact != got.Contact {
				t.Errorf("%s: the listing disagrees with Agency", tt.name)
			}
		}
		if _, err := s.SetContact(ctx, "nope", good); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("missing agency: %v", err)
		}
		// Seeding again fills an emptied contact but keeps an operator's.
		if _, err := demo.Seed(ctx, s); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.Agency(ctx, "adams-clerk"); a.Contact != clerk.Contact {
			t.Errorf("reseeding did not restore the demo contact: %+v", a.Contact)
		}
		custom := good
		custom.Phone = "(555) 010-9999"
		if _, err := s.SetContact(ctx, "adams-clerk", custom); err != nil {
			t.Fatal(err)
		}
		if _, err := demo.Seed(ctx, s); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.Agency(ctx, "adams-clerk"); a.Contact.Phone != custom.Phone {
			t.Errorf("reseeding overwrote the operator's phone: %+v", a.Contact)
		}
		entries, err := log.List(ctx, audit.Filter{Subject: "agency:adams-clerk"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e.Action == "agency.contact" {
				n++
			}
		}
		if n < 3 {
			t.Errorf("agency.contact audited %d times; want every change", n)
		}
	})
}

func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"dmv", "adams-county", "-x", "a--b", "ÅÄÖ", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if tenancy.ValidateID("id", id) != nil {
			return
		}
		if len(id) == 0 || len(id) > 64 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" ||
			strings.HasPrefix(id, "-") || strings.HasSuffix(id, "-") {
			t.Fatalf("accepted bad id %q", id)
		}
	})
}

func FuzzNormalizeZIP(f *testing.F) {
	for _, s := range []string{"70101", " 70101 ", "70101-1234", "70101-", "7010", "٧٠١٠١", "70101-12345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		z, err := tenancy.NormalizeZIP(in)
		if err != nil {
			return
		}
		if len(z) != 5 || strings.Trim(z, "0123456789") != "" {
			t.Fatalf("NormalizeZIP(%q) = %q", in, z)
		}
		if !strings.Contains(in, z) {
			t.Fatalf("NormalizeZIP(%q) = %q is not from the input", in, z)
		}
	})
}
