package outcome

import "github.com/portico-gov/portico/internal/platform"

// Roles that enter an agency's cost model.
const (
	roleAgencyAdmin = "agency_admin"
	roleFinance     = "finance"
)

// MayRead says whether actor may read agency's dashboard: any staff
// member of the agency, and platform administrators. Someone else gets
// not found (an agency's existence in the console is not theirs to
// learn), or unauthorized when not signed in.
func MayRead(actor platform.Actor, agency string) error {
	switch {
	case actor.Kind == platform.ActorStaff && actor.PlatformAdmin:
		return nil
	case agency != "" && actor.Kind == platform.ActorStaff && actor.HasRole(agency):
		return nil
	case !actor.SignedIn():
		return platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	return platform.Errorf(platform.CodeNotFound, "No such agency.")
}

// MayRecord says whether actor may record agency's offline transactions:
// the same people who read its dashboard.
func MayRecord(actor platform.Actor, agency string) error { return MayRead(actor, agency) }

// MayEnterCost says whether actor may enter agency's cost model: its
// agency administrators and finance staff, and platform administrators.
func MayEnterCost(actor platform.Actor, agency string) error {
	if err := MayRead(actor, agency); err != nil {
		return err
	}
	if actor.PlatformAdmin || actor.HasRole(agency, roleAgencyAdmin, roleFinance) {
		return nil
	}
	return platform.Errorf(platform.CodeForbidden, "only the agency's administrators and finance staff enter its costs")
}

// Readable lists the agencies whose dashboards actor may read; all is set
// for platform administrators (every agency).
func Readable(actor platform.Actor) (agencies []string, all bool) {
	if actor.Kind == platform.ActorStaff && actor.PlatformAdmin {
		return nil, true
	}
	if actor.Kind != platform.ActorStaff {
		return nil, false
	}
	return actor.Agencies(), false
}
