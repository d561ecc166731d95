package demo

import (
	"context"
	"fmt"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/report"
)

// The areas the demo's public works cover (the map on their report forms).
var (
	springfield = report.Area{South: 39.70, West: -89.75, North: 39.86, East: -89.55}
	lakeside    = report.Area{South: 42.00, West: -88.10, North: 42.08, East: -87.98}
)

// ReportServices are the demo's report-a-problem services (issue 13):
// Springfield's and Lakeside's public works take reports of potholes,
// broken streetlights and graffiti, also through Open311.
var ReportServices = []report.ReportService{
	{
		Code: "pothole", Slug: "pothole", Agency: "springfield-public-works", Area: springfield,
		Name: "Pothole", NameES: "Bache",
		Description:   "A hole or a broken surface in a street, a bike lane or an alley.",
		DescriptionES: "Un hoyo o una superficie rota en una calle, un carril para bicicletas o un callejón.",
		Keywords:      []string{"pothole", "road", "street", "asphalt"}, Group: "streets",
		Notice:       "Crews inspect reported potholes within 2 business days and fill them within 10.",
		ExpectedDays: 10,
		Attributes: []report.Attribute{
			{Code: "SIZE", Datatype: "singlevaluelist", Required: true, Order: 1,
				Description: "How big is the pothole?", DescriptionES: "¿Qué tamaño tiene el bache?",
				Values: []report.Value{
					{Key: "small", Name: "Smaller than a dinner plate", NameES: "Más pequeño que un plato"},
					{Key: "medium", Name: "About the size of a car tire", NameES: "Del tamaño de una llanta"},
					{Key: "large", Name: "Larger than a car tire", NameES: "Más grande que una llanta"},
				}},
			{Code: "WHERE", Datatype: "multivaluelist", Required: false, Order: 2,
				Description: "Where on the street is it?", DescriptionES: "¿En qué parte de la calle está?",
				Values: []report.Value{
					{Key: "lane", Name: "In a traffic lane", NameES: "En un carril de tráfico"},
					{Key: "bike", Name: "In a bike lane", NameES: "En un carril para bicicletas"},
					{Key: "crosswalk", Name: "In a crosswalk", NameES: "En un cruce peatonal"},
				}},
		},
	},
	{
		Code: "streetlight", Slug: "streetlight", Agency: "springfield-public-works", Area: springfield,
		Name: "Streetlight out", NameES: "Farola apagada",
		Description:   "A streetlight that is out, flickers, or stays on during the day.",
		DescriptionES: "Una farola apagada, que parpadea o que queda encendida de día.",
		Keywords:      []string{"streetlight", "light", "lamp"}, Group: "streets",
		Notice:       "Streetlights are repaired within 5 business days.",
		ExpectedDays: 5,
		Attributes: []report.Attribute{
			{Code: "POLE", Datatype: "string", Required: false, Order: 1,
				Description: "The number on the pole, if you can see it", DescriptionES: "El número del poste, si lo puede ver"},
			{Code: "PROBLEM", Datatype: "singlevaluelist", Required: true, Order: 2,
				Description: "What is wrong with the light?", DescriptionES: "¿Qué problema tiene la farola?",
				Values: []report.Value{
					{Key: "out", Name: "It is out", NameES: "Está apagada"},
					{Key: "flicker", Name: "It flickers", NameES: "Parpadea"},
					{Key: "day", Name: "It is on during the day", NameES: "Está encendida de día"},
				}},
		},
	},
	{
		Code: "graffiti", Slug: "graffiti", Agency: "lakeside-public-works", Area: lakeside,
		Name: "Graffiti", NameES: "Grafiti",
		Description:   "Graffiti on public property: a wall, a sign, a bench or a bridge.",
		DescriptionES: "Grafiti en propiedad pública: una pared, un letrero, un banco o un puente.",
		Keywords:      []string{"graffiti", "vandalism", "paint"}, Group: "clean streets",
		Notice:       "Offensive graffiti is removed within 1 day, other graffiti within 7.",
		ExpectedDays: 7,
		Attributes: []report.Attribute{
			{Code: "OFFENSIVE", Datatype: "singlevaluelist", Required: true, Order: 1,
				Description: "Is it offensive?", DescriptionES: "¿Es ofensivo?",
				Values: []report.Value{{Key: "yes", Name: "Yes", NameES: "Sí"}, {Key: "no", Name: "No", NameES: "No"}}},
			{Code: "SEEN", Datatype: "datetime", Required: false, Order: 2,
				Description: "When did you first see it?", DescriptionES: "¿Cuándo lo vio por primera vez?"},
			{Code: "AREA", Datatype: "number", Required: false, Order: 3,
				Description: "About how many square feet does it cover?", DescriptionES: "¿Cuántos pies cuadrados cubre más o menos?"},
			{Code: "DETAILS", Datatype: "text", Required: false, Order: 4,
				Description: "Anything else the crew should know", DescriptionES: "Algo más que el equipo deba saber"},
		},
	},
}

// ReportDefiner is what seeding needs of the report block.
type ReportDefiner interface {
	Define(ctx context.Context, by platform.Actor, d report.ReportService) (report.ReportService, error)
}

// SeedReportServices defines the demo's report-a-problem services (again:
// Define replaces a definition with itself) and returns how many.
func SeedReportServices(ctx context.Context, r ReportDefiner) (int, error) {
	for _, d := range ReportServices {
		d.Attributes = append([]report.Attribute(nil), d.Attributes...)
		if _, err := r.Define(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "demo"}, d); err != nil {
			return 0, err
		}
	}
	return len(ReportServices), nil
}

// ReportTaker is what seeding reports needs of the report block.
type ReportTaker interface {
	Search(ctx context.Context, q report.Query) ([]report.Request, error)
	Submit(ctx context.Context, in report.NewReport, photos []report.Photo, via report.Via) (report.Receipt, error)
}

// Reports are the demo's reported problems, so the report console, the
// reports nearby and Open311's request list have something to show: Ana's
// pothole (she follows it by email, without signing in), a streetlight
// someone reported without leaving an address, and graffiti in Lakeside.
var Reports = []report.NewReport{
	{ServiceCode: "pothole", Lat: ptr(39.7990), Long: ptr(-89.6440), Address: "Oak Avenue at 3rd Street", Zip: "70114",
		Attributes:  map[string][]string{"SIZE": {"large"}, "WHERE": {"lane"}},
		Description: "Deep enough to damage a tire. Cars swerve into the next lane to avoid it.",
		Email:       "ana.citizen@example.com", FirstName: "Ana", LastName: "Citizen", Lang: "en"},
	{ServiceCode: "streetlight", Lat: ptr(39.7817), Long: ptr(-89.6501), Address: "100 Main Street", Zip: "70102",
		Attributes: map[string][]string{"PROBLEM": {"out"}}, Lang: "en"},
	{ServiceCode: "graffiti", Lat: ptr(42.0410), Long: ptr(-88.0420), Address: "Lakeside Park, the boathouse wall", Zip: "60010",
		Attributes: map[string][]string{"OFFENSIVE": {"no"}}, Description: "Spray paint across the whole north wall.", Lang: "es"},
}

func ptr(f float64) *float64 { return &f }

// SeedReports sends the demo's reports through the report block, once: it
// sends none when the block has reports of the last 90 days. It returns
// how many it sent.
func SeedReports(ctx context.Context, r ReportTaker) (int, error) {
	have, err := r.Search(ctx, report.Query{})
	if err != nil {
		return 0, fmt.Errorf("demo: reports: %w", err)
	}
	if len(have) > 0 {
		return 0, nil
	}
	for _, in := range Reports {
		if _, err := r.Submit(ctx, in, nil, report.Via{}); err != nil {
			return 0, fmt.Errorf("demo: report %s at %s: %w", in.ServiceCode, in.Address, err)
		}
	}
	return len(Reports), nil
}
