package platform

import "context"

// ActorKind says what sort of party caused an action.
type ActorKind string

// Actor kinds.
const (
	ActorSystem    ActorKind = "system"    // the platform itself (jobs, schedulers)
	ActorOperator  ActorKind = "operator"  // a person at the CLI on the server
	ActorCitizen   ActorKind = "citizen"   // a signed-in member of the public
	ActorStaff     ActorKind = "staff"     // agency staff or platform admin
	ActorAnonymous ActorKind = "anonymous" // a visitor who has not signed in
	ActorClient    ActorKind = "client"    // an OAuth client (agency system, plug-in)
)

// Actor identifies who is acting: the principal whose authority a block
// checks before it reads or changes anything. It travels in the request
// context (set once by the session or bearer-token check) and is written to
// every audit entry. Blocks decide with its methods; they never look at
// HTTP. The zero Actor is anonymous.
type Actor struct {
	Kind ActorKind
	ID   string // account id (citizen, staff), client id, or a system name
	// Grants are the roles a staff member holds, one per agency and role.
	// Empty for everyone else.
	Grants []Grant
	// PlatformAdmin is set for staff who administer the whole platform.
	PlatformAdmin bool
	// Client is the OAuth client (an agency system or an app) acting for
	// the person with their token; "" in the person's own browser. Audit
	// entries record it beside the person.
	Client string
}

// Grant is one role held in one agency.
type Grant struct {
	Agency string
	Role   string
}

// IsCitizen reports whether a is the signed-in member of the public with
// account id.
func (a Actor) IsCitizen(id string) bool {
	return a.Kind == ActorCitizen && id != "" && a.ID == id
}

// SignedIn reports whether a is a person with an account (citizen or staff).
func (a Actor) SignedIn() bool {
	return (a.Kind == ActorCitizen || a.Kind == ActorStaff) && a.ID != ""
}

// HasRole reports whether a is staff holding one of roles in agency; with
// no roles given, any role in agency counts.
func (a Actor) HasRole(agency string, roles ...string) bool {
	if a.Kind != ActorStaff || agency == "" {
		return false
	}
	for _, g := range a.Grants {
		if g.Agency != agency {
			continue
		}
		if len(roles) == 0 {
			return true
		}
		for _, r := range roles {
			if g.Role == r {
				return true
			}
		}
	}
	return false
}

// Agencies lists the agencies in which a holds a role, in grant order
// without repeats.
func (a Actor) Agencies() []string {
	var out []string
	for _, g := range a.Grants {
		seen := false
		for _, x := range out {
			if x == g.Agency {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, g.Agency)
		}
	}
	return out
}

// String renders the actor as "kind:id" (or just "kind").
func (a Actor) String() string {
	if a.ID == "" {
		return string(a.Kind)
	}
	return string(a.Kind) + ":" + a.ID
}

type actorKey struct{}
type requestIDKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, or the anonymous actor.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Kind: ActorAnonymous}
}

// WithRequestID returns ctx carrying the request id used in logs and audit.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id in ctx or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
