package manifest

import "time"

// Facts are what the platform knows of a person, from which every block
// builds the same CEL `person` value (PersonOf). The catalog, the form
// engine and the workflow all build it here, so a person is the same age
// and lives in the same places in "services for you", in the form and in
// the case.
type Facts struct {
	DateOfBirth string // YYYY-MM-DD; "" or unreadable: the age is unknown
	Verified    bool
	Language    string // "es" for Spanish; anything else is English
	ZIP         string
	// Jurisdictions are the ids of every jurisdiction the home address is
	// in, most local first; nil when the address is unknown.
	Jurisdictions []string
	// Zone is the time zone whose calendar decides birthdays (the
	// jurisdiction's); nil is UTC.
	Zone *time.Location
}

// PersonOf builds the `person` of f at now. ageKnown is false when f has
// no readable date of birth, or one after today: the age is then 0, which
// callers that must tell "unknown" from "newborn" (services for you) check.
func PersonOf(f Facts, now time.Time) (p Person, ageKnown bool) {
	p = Person{Verified: f.Verified, Language: "en", Residence: Address{ZIP: f.ZIP, Jurisdictions: f.Jurisdictions}}
	if f.Language == "es" {
		p.Language = "es"
	}
	if p.Residence.Jurisdictions == nil {
		p.Residence.Jurisdictions = []string{} // CEL's `in` needs a list, even an empty one
	}
	born, err := time.Parse(time.DateOnly, f.DateOfBirth)
	if err != nil {
		return p, false
	}
	age, ok := Age(born, now, f.Zone)
	p.Age = int64(age)
	return p, ok
}

// Age is how many whole years old a person born on the date born (its
// year, month and day; the clock time is ignored) is at the instant at,
// by the calendar of zone (nil is UTC). A birthday counts from the start
// of its day. Someone born on 29 February turns a year older on 1 March
// in a year without a 29 February (on the 28th their day has not yet
// come). ok is false when born is after the date at (age 0 then).
func Age(born, at time.Time, zone *time.Location) (years int, ok bool) {
	if zone == nil {
		zone = time.UTC
	}
	today := at.In(zone)
	y, m, d := today.Date()
	by, bm, bd := born.Date()
	years = y - by
	if m < bm || m == bm && d < bd {
		years--
	}
	if years < 0 {
		return 0, false
	}
	return years, true
}
