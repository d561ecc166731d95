// Package tenancy owns the jurisdiction tree (state → county → city/town),
// the ZIP codes each jurisdiction covers, and the agencies that belong to
// each jurisdiction. Every agency-owned row elsewhere carries an agency id
// from here.
package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Kind is a level of government.
type Kind string

// Levels of the tree.
const (
	State  Kind = "state"
	County Kind = "county"
	City   Kind = "city"
	Town   Kind = "town"
)

// Jurisdiction is a unit of government with a territory.
type Jurisdiction struct {
	ID       string   `json:"id"`
	ParentID string   `json:"parent_id,omitempty"`
	Kind     Kind     `json:"kind"`
	Name     string   `json:"name"`
	NameES   string   `json:"name_es,omitempty"`
	ZIPs     []string `json:"zips"`
	// TimeZone is the IANA zone ("America/Chicago") of every date shown
	// for this jurisdiction and every due date it sets. Empty means the
	// parent's (see Service.Location).
	TimeZone string `json:"time_zone,omitempty"`
}

// Agency is a department of a jurisdiction that delivers services.
type Agency struct {
	ID             string  `json:"id"`
	JurisdictionID string  `json:"jurisdiction_id"`
	Name           string  `json:"name"`
	NameES         string  `json:"name_es,omitempty"`
	Contact        Contact `json:"contact"`
}

// Contact is how a person reaches an agency: shown on the agency's page
// and wherever a person must go to its counter. Every field may be empty
// (not given); pages leave out what is missing.
type Contact struct {
	// Address is the office's street address, one line per line of the
	// envelope ("100 Main Street\nAdamsville, EX 70100").
	Address string `json:"address,omitempty"`
	Phone   string `json:"phone,omitempty"`   // as people dial it: "(555) 010-0100"
	Email   string `json:"email,omitempty"`   // a public mailbox, not a person's
	Website string `json:"website,omitempty"` // an https:// URL
	// Hours are the opening hours in English and in Spanish, as a person
	// reads them ("Monday to Friday, 8 a.m. to 4:30 p.m.").
	Hours   string `json:"hours,omitempty"`
	HoursES string `json:"hours_es,omitempty"`
}

// AddressLines splits Address into its lines, without empty ones.
func (c Contact) AddressLines() []string {
	var out []string
	for _, l := range strings.Split(c.Address, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// HoursIn returns the opening hours in lang, falling back to English.
func (c Contact) HoursIn(lang string) string {
	if lang == "es" && c.HoursES != "" {
		return c.HoursES
	}
	return c.Hours
}

// Empty reports whether nothing is known about how to reach the agency.
func (c Contact) Empty() bool { return c == Contact{} }

// normalize trims every field and checks each one: lengths, an email
// address with one @, a website that is an https (or, for local test
// sites, http) URL, no control characters but the address's newlines.
func (c *Contact) normalize() error {
	c.Address = strings.TrimSpace(strings.ReplaceAll(c.Address, "\r\n", "\n"))
	for _, f := range []*string{&c.Phone, &c.Email, &c.Website, &c.Hours, &c.HoursES} {
		*f = strings.TrimSpace(*f)
	}
	fields := []struct {
		name, v  string
		max      int
		newlines bool
	}{
		{"address", c.Address, 400, true}, {"phone", c.Phone, 40, false}, {"email", c.Email, 254, false},
		{"website", c.Website, 400, false}, {"hours", c.Hours, 400, false}, {"hours_es", c.HoursES, 400, false},
	}
	for _, f := range fields {
		if !utf8.ValidString(f.v) {
			return platform.Invalid(f.name, f.name+" must be UTF-8 text")
		}
		if utf8.RuneCountInString(f.v) > f.max {
			return platform.Invalid(f.name, fmt.Sprintf("%s must be at most %d characters", f.name, f.max))
		}
		for _, r := range f.v {
			if r < 0x20 && !(f.newlines && r == '\n') || r == 0x7f {
				return platform.Invalid(f.name, f.name+" must not contain control characters")
			}
		}
	}
	if c.Email != "" {
		at := strings.LastIndexByte(c.Email, '@')
		if at < 1 || at == len(c.Email)-1 || strings.ContainsAny(c.Email, " <>,;") {
			return platform.Invalid("email", fmt.Sprintf("email %q is not an email address", c.Email))
		}
	}
	if c.Website != "" {
		u, err := url.Parse(c.Website)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return platform.Invalid("website", fmt.Sprintf("website %q must be an https:// URL", c.Website))
		}
	}
	return nil
}

var (
	idPattern  = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
	zipPattern = regexp.MustCompile(`^[0-9]{5}$`)
)

// ValidateID checks an identifier for a jurisdiction or agency: lowercase
// letters, digits and inner hyphens, at most 64 characters. Ids appear in
// URLs, CLI flags and case references, so they stay plain.
func ValidateID(field, id string) error {
	if !idPattern.MatchString(id) {
		return platform.Invalid(field, fmt.Sprintf("%s %q must be 1 to 64 lowercase letters, digits or hyphens, starting and ending with a letter or digit", field, id))
	}
	return nil
}

func validateName(field, name string, required bool) error {
	if strings.TrimSpace(name) == "" {
		if required {
			return platform.Invalid(field, field+" is required")
		}
		return nil
	}
	if utf8.RuneCountInString(name) > 200 {
		return platform.Invalid(field, field+" must be at most 200 characters")
	}
	return nil
}

// parentKinds says which kinds may contain each kind.
var parentKinds = map[Kind][]Kind{
	State:  nil,
	County: {State},
	City:   {County, State},
	Town:   {County, State},
}

// Service is the tenancy block.
type Service struct {
	db    *storage.DB
	audit *audit.Log
	clock platform.Clock
	zones zoneCache
}

// New returns the tenancy service. Every argument is required: a nil one
// is refused with an error naming it.
func New(db *storage.DB, log *audit.Log, clock platform.Clock) (*Service, error) {
	if err := platform.Required("tenancy",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil}); err != nil {
		return nil, err
	}
	return &Service{db: db, audit: log, clock: clock}, nil
}

// CreateJurisdiction adds j to the tree.
func (s *Service) CreateJurisdiction(ctx context.Context, j Jurisdiction) (Jurisdiction, error) {
	j.Name = strings.TrimSpace(j.Name)
	j.NameES = strings.TrimSpace(j.NameES)
	allowed, known := parentKinds[j.Kind]
	if !known {
		return j, platform.Invalid("kind", fmt.Sprintf("kind %q must be one of state, county, city, town", j.Kind))
	}
	if err := ValidateID("id", j.ID); err != nil {
		return j, err
	}
	if err := validateName("name", j.Name, true); err != nil {
		return j, err
	}
	if err := validateName("name_es", j.NameES, false); err != nil {
		return j, err
	}
	if err := ValidateTimeZone(j.TimeZone); err != nil {
		return j, err
	}
	zips := make([]string, 0, len(j.ZIPs))
	for _, z := range j.ZIPs {
		z = strings.TrimSpace(z)
		if !zipPattern.MatchString(z) {
			return j, platform.Invalid("zips", fmt.Sprintf("ZIP code %q must be five digits", z))
		}
		if !slices.Contains(zips, z) {
			zips = append(zips, z)
		}
	}
	slices.Sort(zips)
	j.ZIPs = zips

	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if len(allowed) == 0 && j.ParentID != "" {
			return platform.Invalid("parent", "a state has no parent jurisdiction")
		}
		if len(allowed) > 0 {
			if j.ParentID == "" {
				return platform.Invalid("parent", fmt.Sprintf("a %s needs a parent jurisdiction", j.Kind))
			}
			var pk Kind
			err := tx.QueryRowContext(ctx, `SELECT kind FROM jurisdictions WHERE id = $1`, j.ParentID).Scan(&pk)
			if errors.Is(err, sql.ErrNoRows) {
				return platform.Invalid("parent", fmt.Sprintf("parent jurisdiction %q does not exist", j.ParentID))
			}
			if err != nil {
				return err
			}
			if !slices.Contains(allowed, pk) {
				return platform.Invalid("parent", fmt.Sprintf("a %s cannot be inside a %s", j.Kind, pk))
			}
		}
		var parent any
		if j.ParentID != "" {
			parent = j.ParentID
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO jurisdictions (id, parent_id, kind, name, name_es, time_zone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			j.ID, parent, string(j.Kind), j.Name, j.NameES, j.TimeZone, s.clock.Now())
		if storage.IsUniqueViolation(err) {
			return platform.Errorf(platform.CodeConflict, "jurisdiction %q already exists", j.ID)
		}
		if err != nil {
			return err
		}
		for _, z := range j.ZIPs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO jurisdiction_zips (jurisdiction_id, zip) VALUES ($1, $2)`, j.ID, z); err != nil {
				return err
			}
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "jurisdiction.create", Subject: "jurisdiction:" + j.ID, Detail: j})
		return err
	})
	if err != nil {
		return j, fmt.Errorf("tenancy: create jurisdiction: %w", err)
	}
	return j, nil
}

// Jurisdictions lists every jurisdiction, parents before children, with
// their ZIP codes.
func (s *Service) Jurisdictions(ctx context.Context) ([]Jurisdiction, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, COALESCE(parent_id, ''), kind, name, name_es, time_zone FROM jurisdictions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("tenancy: list jurisdictions: %w", err)
	}
	defer rows.Close()
	byID := map[string]*Jurisdiction{}
	var all []*Jurisdiction
	for rows.Next() {
		j := &Jurisdiction{ZIPs: []string{}}
		if err := rows.Scan(&j.ID, &j.ParentID, &j.Kind, &j.Name, &j.NameES, &j.TimeZone); err != nil {
			return nil, fmt.Errorf("tenancy: list jurisdictions: %w", err)
		}
		byID[j.ID] = j
		all = append(all, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tenancy: list jurisdictions: %w", err)
	}
	zrows, err := s.db.Read().QueryContext(ctx, `SELECT jurisdiction_id, zip FROM jurisdiction_zips ORDER BY zip`)
	if err != nil {
		return nil, fmt.Errorf("tenancy: list jurisdictions: %w", err)
	}
	defer zrows.Close()
	for zrows.Next() {
		var id, zip string
		if err := zrows.Scan(&id, &zip); err != nil {
			return nil, fmt.Errorf("tenancy: list jurisdictions: %w", err)
		}
		if j := byID[id]; j != nil {
			j.ZIPs = append(j.ZIPs, zip)
		}
	}
	if err := zrows.Err(); err != nil {
		return nil, fmt.Errorf("tenancy: list jurisdictions: %w", err)
	}
	out := make([]Jurisdiction, 0, len(all))
	for _, j := range treeOrder(all) {
		out = append(out, *j)
	}
	return out, nil
}

// treeOrder sorts depth-first: each jurisdiction followed by its children.
func treeOrder(all []*Jurisdiction) []*Jurisdiction {
	children := map[string][]*Jurisdiction{}
	for _, j := range all {
		children[j.ParentID] = append(children[j.ParentID], j)
	}
	var out []*Jurisdiction
	var walk func(parent string)
	walk = func(parent string) {
		for _, j := range children[parent] {
			out = append(out, j)
			walk(j.ID)
		}
	}
	walk("")
	return out
}

// Jurisdiction returns one jurisdiction.
func (s *Service) Jurisdiction(ctx context.Context, id string) (Jurisdiction, error) {
	j := Jurisdiction{ZIPs: []string{}}
	err := s.db.Read().QueryRowContext(ctx, `SELECT id, COALESCE(parent_id, ''), kind, name, name_es, time_zone FROM jurisdictions WHERE id = $1`, id).
		Scan(&j.ID, &j.ParentID, &j.Kind, &j.Name, &j.NameES, &j.TimeZone)
	if errors.Is(err, sql.ErrNoRows) {
		return j, platform.Errorf(platform.CodeNotFound, "jurisdiction %q does not exist", id)
	}
	if err != nil {
		return j, fmt.Errorf("tenancy: jurisdiction %s: %w", id, err)
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT zip FROM jurisdiction_zips WHERE jurisdiction_id = $1 ORDER BY zip`, id)
	if err != nil {
		return j, fmt.Errorf("tenancy: jurisdiction %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var z string
		if err := rows.Scan(&z); err != nil {
			return j, err
		}
		j.ZIPs = append(j.ZIPs, z)
	}
	return j, rows.Err()
}

// ResolveZIP returns every jurisdiction whose territory includes zip, from
// the most local up to the state (a city, its county, the state). A ZIP
// listed on a city implies its ancestors even when they do not list it.
func (s *Service) ResolveZIP(ctx context.Context, zip string) ([]Jurisdiction, error) {
	zip, err := NormalizeZIP(zip)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT jurisdiction_id FROM jurisdiction_zips WHERE zip = $1`, zip)
	if err != nil {
		return nil, fmt.Errorf("tenancy: resolve zip: %w", err)
	}
	var direct []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		direct = append(direct, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Jurisdiction
	for _, id := range direct {
		for id != "" && !seen[id] {
			seen[id] = true
			j, err := s.Jurisdiction(ctx, id)
			if err != nil {
				return nil, err
			}
			out = append(out, j)
			id = j.ParentID
		}
	}
	rank := map[Kind]int{City: 0, Town: 0, County: 1, State: 2}
	slices.SortStableFunc(out, func(a, b Jurisdiction) int { return rank[a.Kind] - rank[b.Kind] })
	return out, nil
}

// NormalizeZIP turns what a person typed into a five-digit ZIP code:
// surrounding space is ignored and a ZIP+4 ("70101-1234") is cut to its
// first five digits. Anything else is an invalid-input error.
func NormalizeZIP(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) == 10 && s[5] == '-' && zipPattern.MatchString(s[:5]) && isDigits(s[6:]) {
		s = s[:5]
	}
	if !zipPattern.MatchString(s) {
		return "", platform.Invalid("zip", "Enter a five-digit ZIP code")
	}
	return s, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// CreateAgency adds an agency to a jurisdiction.
func (s *Service) CreateAgency(ctx context.Context, a Agency) (Agency, error) {
	a.Name = strings.TrimSpace(a.Name)
	a.NameES = strings.TrimSpace(a.NameES)
	if err := ValidateID("id", a.ID); err != nil {
		return a, err
	}
	if err := validateName("name", a.Name, true); err != nil {
		return a, err
	}
	if err := validateName("name_es", a.NameES, false); err != nil {
		return a, err
	}
	if a.JurisdictionID == "" {
		return a, platform.Invalid("jurisdiction", "jurisdiction is required")
	}
	if err := a.Contact.normalize(); err != nil {
		return a, err
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM jurisdictions WHERE id = $1`, a.JurisdictionID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return platform.Invalid("jurisdiction", fmt.Sprintf("jurisdiction %q does not exist", a.JurisdictionID))
		}
		if err != nil {
			return err
		}
		c := a.Contact
		_, err = tx.ExecContext(ctx, `INSERT INTO agencies (id, jurisdiction_id, name, name_es, address, phone, email, website, hours, hours_es, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			a.ID, a.JurisdictionID, a.Name, a.NameES, c.Address, c.Phone, c.Email, c.Website, c.Hours, c.HoursES, s.clock.Now())
		if storage.IsUniqueViolation(err) {
			return platform.Errorf(platform.CodeConflict, "agency %q already exists", a.ID)
		}
		if err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "agency.create", Subject: "agency:" + a.ID, AgencyID: a.ID, Detail: a})
		return err
	})
	if err != nil {
		return a, fmt.Errorf("tenancy: create agency: %w", err)
	}
	return a, nil
}

// Agencies lists agencies, all or those of one jurisdiction.
func (s *Service) Agencies(ctx context.Context, jurisdictionID string) ([]Agency, error) {
	q := `SELECT ` + agencyColumns + ` FROM agencies`
	var args []any
	if jurisdictionID != "" {
		q += ` WHERE jurisdiction_id = $1`
		args = append(args, jurisdictionID)
	}
	q += ` ORDER BY jurisdiction_id, name`
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("tenancy: list agencies: %w", err)
	}
	defer rows.Close()
	out := []Agency{}
	for rows.Next() {
		a, err := scanAgency(rows)
		if err != nil {
			return nil, fmt.Errorf("tenancy: list agencies: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Agency returns one agency.
func (s *Service) Agency(ctx context.Context, id string) (Agency, error) {
	a, err := scanAgency(s.db.Read().QueryRowContext(ctx, `SELECT `+agencyColumns+` FROM agencies WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, platform.Errorf(platform.CodeNotFound, "agency %q does not exist", id)
	}
	if err != nil {
		return a, fmt.Errorf("tenancy: agency %s: %w", id, err)
	}
	return a, nil
}

const agencyColumns = `id, jurisdiction_id, name, name_es, address, phone, email, website, hours, hours_es`

func scanAgency(row interface{ Scan(...any) error }) (Agency, error) {
	var a Agency
	c := &a.Contact
	err := row.Scan(&a.ID, &a.JurisdictionID, &a.Name, &a.NameES, &c.Address, &c.Phone, &c.Email, &c.Website, &c.Hours, &c.HoursES)
	return a, err
}

// SetContact replaces an agency's contact details (all of them: a field
// left empty is cleared). Audited as agency.contact.
func (s *Service) SetContact(ctx context.Context, agencyID string, c Contact) (Agency, error) {
	if err := c.normalize(); err != nil {
		return Agency{}, err
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE agencies SET address = $1, phone = $2, email = $3, website = $4, hours = $5, hours_es = $6 WHERE id = $7`,
			c.Address, c.Phone, c.Email, c.Website, c.Hours, c.HoursES, agencyID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return platform.Errorf(platform.CodeNotFound, "agency %q does not exist", agencyID)
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "agency.contact", Subject: "agency:" + agencyID, AgencyID: agencyID, Detail: c})
		return err
	})
	if err != nil {
		return Agency{}, fmt.Errorf("tenancy: set contact of %s: %w", agencyID, err)
	}
	return s.Agency(ctx, agencyID)
}
