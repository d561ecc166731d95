package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Datatypes of Open311 attributes.
var Datatypes = []string{"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}

// ReportService is a report-a-problem service: Open311's service and its
// definition.
type ReportService struct {
	Code          string      `json:"service_code" yaml:"code"`
	Slug          string      `json:"slug" yaml:"slug"`
	Agency        string      `json:"agency" yaml:"agency"`
	Jurisdiction  string      `json:"jurisdiction" yaml:"-"`
	Name          string      `json:"service_name" yaml:"name"`
	NameES        string      `json:"service_name_es" yaml:"name_es"`
	Description   string      `json:"description" yaml:"description"`
	DescriptionES string      `json:"description_es" yaml:"description_es"`
	Keywords      []string    `json:"keywords" yaml:"keywords"`
	Group         string      `json:"group" yaml:"group"`
	Notice        string      `json:"service_notice" yaml:"notice"`
	ExpectedDays  int         `json:"expected_days" yaml:"expected_days"`
	Attributes    []Attribute `json:"attributes" yaml:"attributes"`
	// Area is the part of the map the service covers; the zero Area means
	// none was given (the web form then offers the address search only).
	Area Area `json:"area,omitzero" yaml:"area"`
	// Disabled: the agency no longer takes reports through the service
	// (Disable); defining it again takes them again.
	Disabled  bool      `json:"disabled" yaml:"-"`
	UpdatedAt time.Time `json:"updated_at" yaml:"-"`
}

// Area is a bounding box in WGS84 degrees.
type Area struct {
	South float64 `json:"south" yaml:"south"`
	West  float64 `json:"west" yaml:"west"`
	North float64 `json:"north" yaml:"north"`
	East  float64 `json:"east" yaml:"east"`
}

// MaxAreaSpan is the widest area, in degrees either way: a city's or a
// county's streets, not a state (a grid that wide helps nobody point).
const MaxAreaSpan = 3.0

// IsZero reports whether no area was given.
func (a Area) IsZero() bool { return a == Area{} }

// String is the stored form, "south,west,north,east", or "".
func (a Area) String() string {
	if a.IsZero() {
		return ""
	}
	return strconv.FormatFloat(a.South, 'f', -1, 64) + "," + strconv.FormatFloat(a.West, 'f', -1, 64) + "," +
		strconv.FormatFloat(a.North, 'f', -1, 64) + "," + strconv.FormatFloat(a.East, 'f', -1, 64)
}

// ParseArea reads "south,west,north,east" (spaces allowed) and checks it;
// "" is the zero Area.
func ParseArea(s string) (Area, error) {
	if strings.TrimSpace(s) == "" {
		return Area{}, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return Area{}, platform.Invalid("area", "area must be four numbers: south,west,north,east")
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return Area{}, platform.Invalid("area", fmt.Sprintf("area: %q is not a number of degrees", strings.TrimSpace(p)))
		}
		v[i] = f
	}
	a := Area{South: v[0], West: v[1], North: v[2], East: v[3]}
	return a, a.check()
}

func (a Area) check() error {
	if a.IsZero() {
		return nil
	}
	for _, f := range []float64{a.South, a.West, a.North, a.East} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return platform.Invalid("area", "area: every bound must be a number of degrees")
		}
	}
	switch {
	case a.South < -85 || a.North > 85:
		return platform.Invalid("area", "area: latitudes must be between -85 and 85")
	case a.West < -180 || a.East > 180:
		return platform.Invalid("area", "area: longitudes must be between -180 and 180")
	case a.South >= a.North:
		return platform.Invalid("area", "area: south must be less than north")
	case a.West >= a.East:
		return platform.Invalid("area", "area: west must be less than east")
	case a.North-a.South > MaxAreaSpan || a.East-a.West > MaxAreaSpan:
		return platform.Invalid("area", fmt.Sprintf("area: at most %g degrees either way", MaxAreaSpan))
	}
	return nil
}

// Metadata reports whether the service has attributes (Open311's
// metadata: true means its definition must be read).
func (s ReportService) Metadata() bool { return len(s.Attributes) > 0 }

// NameIn is the service's name in lang.
func (s ReportService) NameIn(lang string) string {
	if lang == "es" && s.NameES != "" {
		return s.NameES
	}
	return s.Name
}

// DescriptionIn is the service's description in lang.
func (s ReportService) DescriptionIn(lang string) string {
	if lang == "es" && s.DescriptionES != "" {
		return s.DescriptionES
	}
	return s.Description
}

// Attribute is one question of a service definition.
type Attribute struct {
	Code          string  `json:"code" yaml:"code"`
	Datatype      string  `json:"datatype" yaml:"datatype"`
	Required      bool    `json:"required" yaml:"required"`
	Description   string  `json:"description" yaml:"description"`
	DescriptionES string  `json:"description_es" yaml:"description_es"`
	Order         int     `json:"order" yaml:"order"`
	Values        []Value `json:"values,omitempty" yaml:"values"`
}

// Variable is Open311's "variable": false for a notice that asks nothing.
// Every attribute Portico keeps asks for a value.
func (a Attribute) Variable() bool { return true }

// DescriptionIn is the question in lang.
func (a Attribute) DescriptionIn(lang string) string {
	if lang == "es" && a.DescriptionES != "" {
		return a.DescriptionES
	}
	return a.Description
}

// List reports whether the attribute's answer is chosen from Values.
func (a Attribute) List() bool {
	return a.Datatype == "singlevaluelist" || a.Datatype == "multivaluelist"
}

// Value is one choice of a list attribute.
type Value struct {
	Key    string `json:"key" yaml:"key"`
	Name   string `json:"name" yaml:"name"`
	NameES string `json:"name_es" yaml:"name_es"`
}

// NameIn is the choice's name in lang.
func (v Value) NameIn(lang string) string {
	if lang == "es" && v.NameES != "" {
		return v.NameES
	}
	return v.Name
}

var (
	codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
)

// checkDefinition validates a service as an agency declares it.
func checkDefinition(d ReportService) error {
	bad := func(format string, args ...any) error {
		return platform.Invalid("service", fmt.Sprintf(format, args...))
	}
	switch {
	case !codePattern.MatchString(d.Code):
		return bad("service code %q must be 1 to 64 letters, digits, - or _", d.Code)
	case !slugPattern.MatchString(d.Slug):
		return bad("slug %q must be 1 to 64 lower-case letters, digits or -", d.Slug)
	case strings.TrimSpace(d.Name) == "" || strings.TrimSpace(d.NameES) == "":
		return bad("service %s needs a name in English and Spanish", d.Code)
	case strings.TrimSpace(d.Description) == "" || strings.TrimSpace(d.DescriptionES) == "":
		return bad("service %s needs a description in English and Spanish", d.Code)
	case d.ExpectedDays < 0 || d.ExpectedDays > 365:
		return bad("service %s: expected_days must be 0 to 365", d.Code)
	}
	if err := d.Area.check(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, a := range d.Attributes {
		switch {
		case !codePattern.MatchString(a.Code):
			return bad("attribute code %q must be 1 to 64 letters, digits, - or _", a.Code)
		case seen[a.Code]:
			return bad("attribute %s is declared twice", a.Code)
		case !slices.Contains(Datatypes, a.Datatype):
			return bad("attribute %s: datatype %q is not one of %s", a.Code, a.Datatype, strings.Join(Datatypes, ", "))
		case strings.TrimSpace(a.Description) == "" || strings.TrimSpace(a.DescriptionES) == "":
			return bad("attribute %s needs a description in English and Spanish", a.Code)
		case a.List() && len(a.Values) == 0:
			return bad("attribute %s: a %s needs values", a.Code, a.Datatype)
		case !a.List() && len(a.Values) > 0:
			return bad("attribute %s: only list datatypes have values", a.Code)
		}
		seen[a.Code] = true
		keys := map[string]bool{}
		for _, v := range a.Values {
			if v.Key == "" || keys[v.Key] || v.Name == "" || v.NameES == "" {
				return bad("attribute %s: each value needs a unique key and a name in English and Spanish", a.Code)
			}
			keys[v.Key] = true
		}
	}
	return nil
}

// How Define treats an existing service with the same code.
const (
	Upsert  = iota // create or replace
	Create         // conflict when the code exists
	Replace        // not found when the code does not exist (for the agency)
)

// Define creates or replaces a report-a-problem service of an agency
// (which must exist) and audits it. Attributes are kept in their order
// (by Order, then as declared). A disabled service defined again takes
// reports again.
func (s *Service) Define(ctx context.Context, by platform.Actor, d ReportService) (ReportService, error) {
	return s.DefineAs(ctx, by, d, Upsert)
}

// DefineAs is Define with mode Upsert, Create or Replace.
func (s *Service) DefineAs(ctx context.Context, by platform.Actor, d ReportService, mode int) (ReportService, error) {
	if by.Kind != platform.ActorOperator && by.Kind != platform.ActorSystem && !by.PlatformAdmin && !by.HasRole(d.Agency, "agency_admin") {
		return ReportService{}, platform.Errorf(platform.CodeForbidden, "Only the agency's administrators may define its report-a-problem services.")
	}
	if err := checkDefinition(d); err != nil {
		return ReportService{}, err
	}
	jur, _, _, err := s.cfg.Agencies.AgencyPlace(ctx, d.Agency)
	if err != nil {
		return ReportService{}, err
	}
	d.Jurisdiction = jur
	slices.SortStableFunc(d.Attributes, func(a, b Attribute) int { return a.Order - b.Order })
	for i := range d.Attributes {
		d.Attributes[i].Order = i + 1
	}
	d.UpdatedAt = s.cfg.Clock.Now().UTC().Truncate(time.Microsecond)
	attrs, err := json.Marshal(d.Attributes)
	if err != nil {
		return ReportService{}, fmt.Errorf("report: define: %w", err)
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT agency_id FROM report_services WHERE code = $1`, d.Code).Scan(&owner)
		if err == nil && owner != d.Agency {
			return platform.Errorf(platform.CodeConflict, "Service code %s belongs to another agency.", d.Code)
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && mode == Create {
			return platform.Errorf(platform.CodeConflict, "Service %s already exists; change it with update.", d.Code)
		}
		if errors.Is(err, sql.ErrNoRows) && mode == Replace {
			return platform.Errorf(platform.CodeNotFound, "Agency %s has no report-a-problem service %s.", d.Agency, d.Code)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_services (code, slug, agency_id, jurisdiction_id, name, name_es, description, description_es, keywords, group_name, notice, expected_days, attributes, updated_at, area)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (code) DO UPDATE SET slug = excluded.slug, jurisdiction_id = excluded.jurisdiction_id, name = excluded.name, name_es = excluded.name_es,
				description = excluded.description, description_es = excluded.description_es, keywords = excluded.keywords, group_name = excluded.group_name,
				notice = excluded.notice, expected_days = excluded.expected_days, attributes = excluded.attributes, updated_at = excluded.updated_at, area = excluded.area, disabled_at = NULL`,
			d.Code, d.Slug, d.Agency, d.Jurisdiction, d.Name, d.NameES, d.Description, d.DescriptionES, strings.Join(d.Keywords, ", "), d.Group, d.Notice, d.ExpectedDays, string(attrs), d.UpdatedAt, d.Area.String()); err != nil {
			if platformErr := uniqueSlug(err, d.Slug); platformErr != nil {
				return platformErr
			}
			return err
		}
		_, err = s.cfg.Audit.Append(platform.WithActor(ctx, by), tx, audit.Record{Action: "report.service.define", Subject: "report-service:" + d.Code, AgencyID: d.Agency,
			Detail: map[string]any{"slug": d.Slug, "attributes": len(d.Attributes)}})
		return err
	})
	if err != nil {
		if platform.ErrorCode(err) != platform.CodeInternal {
			return ReportService{}, err
		}
		return ReportService{}, fmt.Errorf("report: define: %w", err)
	}
	return d, nil
}

func uniqueSlug(err error, slug string) error {
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "slug") {
		return platform.Errorf(platform.CodeConflict, "Another service already has the slug %s.", slug)
	}
	return nil
}

const serviceColumns = `code, slug, agency_id, jurisdiction_id, name, name_es, description, description_es, keywords, group_name, notice, expected_days, attributes, updated_at, area, disabled_at`

func scanService(r interface{ Scan(...any) error }) (ReportService, error) {
	var d ReportService
	var keywords, attrs, area string
	var disabled sql.NullTime
	if err := r.Scan(&d.Code, &d.Slug, &d.Agency, &d.Jurisdiction, &d.Name, &d.NameES, &d.Description, &d.DescriptionES, &keywords, &d.Group, &d.Notice, &d.ExpectedDays, &attrs, &d.UpdatedAt, &area, &disabled); err != nil {
		return ReportService{}, err
	}
	d.Disabled = disabled.Valid
	a, err := ParseArea(area)
	if err != nil {
		return ReportService{}, fmt.Errorf("report: service %s: area: %w", d.Code, err)
	}
	d.Area = a
	if keywords != "" {
		d.Keywords = strings.Split(keywords, ", ")
	}
	if err := json.Unmarshal([]byte(attrs), &d.Attributes); err != nil {
		return ReportService{}, fmt.Errorf("report: service %s: attributes: %w", d.Code, err)
	}
	d.UpdatedAt = d.UpdatedAt.UTC()
	return d, nil
}

// Services lists the report-a-problem services, by name, disabled ones
// too (to name the services of old reports; Offered drops them); with a
// jurisdiction, only those of agencies in it.
func (s *Service) Services(ctx context.Context, jurisdiction string) ([]ReportService, error) {
	q := `SELECT ` + serviceColumns + ` FROM report_services`
	var args []any
	if jurisdiction != "" {
		q += ` WHERE jurisdiction_id = $1`
		args = append(args, jurisdiction)
	}
	rows, err := s.db.Read().QueryContext(ctx, q+` ORDER BY name, code`, args...)
	if err != nil {
		return nil, fmt.Errorf("report: services: %w", err)
	}
	defer rows.Close()
	out := []ReportService{}
	for rows.Next() {
		d, err := scanService(rows)
		if err != nil {
			return nil, fmt.Errorf("report: services: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Offered is the services of svcs that take reports.
func Offered(svcs []ReportService) []ReportService {
	out := make([]ReportService, 0, len(svcs))
	for _, d := range svcs {
		if !d.Disabled {
			out = append(out, d)
		}
	}
	return out
}

// AgencyServices lists an agency's services, disabled ones too, for its
// staff and platform administrators (the console and the CLI).
func (s *Service) AgencyServices(ctx context.Context, by platform.Actor, agency string) ([]ReportService, error) {
	if err := mayRead(by, agency); err != nil {
		return nil, err
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+serviceColumns+` FROM report_services WHERE agency_id = $1 ORDER BY name, code`, agency)
	if err != nil {
		return nil, fmt.Errorf("report: agency services: %w", err)
	}
	defer rows.Close()
	out := []ReportService{}
	for rows.Next() {
		d, err := scanService(rows)
		if err != nil {
			return nil, fmt.Errorf("report: agency services: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Disable stops a service taking reports (its administrators, platform
// administrators, the operator), audited. Its reports stay; defining the
// service again takes reports again. Disabling a disabled service is a
// no-op that succeeds.
func (s *Service) Disable(ctx context.Context, by platform.Actor, agency, code string) error {
	if by.Kind != platform.ActorOperator && by.Kind != platform.ActorSystem && !by.PlatformAdmin && !by.HasRole(agency, "agency_admin") {
		return platform.Errorf(platform.CodeForbidden, "Only the agency's administrators may disable its report-a-problem services.")
	}
	now := s.cfg.Clock.Now().UTC().Truncate(time.Microsecond)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE report_services SET disabled_at = COALESCE(disabled_at, $1), updated_at = $1 WHERE code = $2 AND agency_id = $3`, now, code, agency)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return platform.Errorf(platform.CodeNotFound, "Agency %s has no report-a-problem service %s.", agency, code)
		}
		_, err = s.cfg.Audit.Append(platform.WithActor(ctx, by), tx, audit.Record{Action: "report.service.disable", Subject: "report-service:" + code, AgencyID: agency})
		return err
	})
	if err != nil && platform.ErrorCode(err) == platform.CodeInternal {
		return fmt.Errorf("report: disable: %w", err)
	}
	return err
}

// Jurisdictions reports whether any service is offered in jurisdiction.
func (s *Service) HasJurisdiction(ctx context.Context, jurisdiction string) (bool, error) {
	var n int
	err := s.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM report_services WHERE jurisdiction_id = $1`, jurisdiction).Scan(&n)
	return n > 0, err
}

// ServiceByCode returns one service by its Open311 code.
func (s *Service) ServiceByCode(ctx context.Context, code string) (ReportService, error) {
	return s.serviceWhere(ctx, `code = $1`, code)
}

// ServiceBySlug returns one service by its address on the web; a
// disabled one is not found.
func (s *Service) ServiceBySlug(ctx context.Context, slug string) (ReportService, error) {
	d, err := s.serviceWhere(ctx, `slug = $1`, slug)
	if err == nil && d.Disabled {
		return ReportService{}, errNotFound("service")
	}
	return d, err
}

func (s *Service) serviceWhere(ctx context.Context, where, arg string) (ReportService, error) {
	d, err := scanService(s.db.Read().QueryRowContext(ctx, `SELECT `+serviceColumns+` FROM report_services WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return ReportService{}, errNotFound("service")
	}
	if err != nil {
		return ReportService{}, fmt.Errorf("report: service: %w", err)
	}
	return d, nil
}

// AgencyName is an agency's name in lang, as a report form names it.
func (s *Service) AgencyName(ctx context.Context, agency, lang string) (string, error) {
	_, name, nameES, err := s.cfg.Agencies.AgencyPlace(ctx, agency)
	if err != nil {
		return "", fmt.Errorf("report: agency %s: %w", agency, err)
	}
	if lang == "es" && nameES != "" {
		return nameES, nil
	}
	return name, nil
}
