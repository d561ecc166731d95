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

// Actor identifies who is acting. It travels in the request context and is
// written to every audit entry.
type Actor struct {
	Kind ActorKind
	ID   string
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
