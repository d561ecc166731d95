package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Circuit states, as Circuit reports them and the console shows them.
const (
	CircuitClosed   = "closed"
	CircuitHalfOpen = "half_open"
	CircuitOpen     = "open"
)

// Health windows and bounds.
const (
	// HealthWindow is the period Health counts calls over.
	HealthWindow = 24 * time.Hour
	// HealthSample is how many of the window's latest calls Health reads
	// to work out the failure rate (and RecentErrors to find failures):
	// the cost of the console's page is bounded however busy a plug-in is.
	HealthSample = audit.MaxRecent
)

// Circuit is this process's circuit breaker state for a plug-in
// (CircuitClosed when it has not been called here yet). Each process
// keeps its own breaker, so replicas may differ for up to BreakerOpen.
func (g *Gateway) Circuit(pluginID string) string {
	g.mu.Lock()
	t := g.plugins[pluginID]
	g.mu.Unlock()
	if t == nil {
		return CircuitClosed
	}
	switch t.breaker.State() {
	case gobreaker.StateOpen:
		return CircuitOpen
	case gobreaker.StateHalfOpen:
		return CircuitHalfOpen
	}
	return CircuitClosed
}

// Health is a plug-in's state as the console's catalogue shows it.
type Health struct {
	Circuit string
	// Calls is how many exchanges the gateway audited in the HealthWindow
	// up to now (plugin.call; refusals are not calls).
	Calls int
	// Sampled is how many of those, the latest, were read (at most
	// HealthSample), and Failed how many of them did not end "ok".
	Sampled, Failed int
}

// FailureRate is Failed over Sampled, 0 with no calls.
func (h Health) FailureRate() float64 {
	if h.Sampled == 0 {
		return 0
	}
	return float64(h.Failed) / float64(h.Sampled)
}

// Exchange is one audited call or refusal, without bodies or the person.
type Exchange struct {
	At        time.Time
	Action    string // "plugin.call" or "plugin.refuse"
	Agency    string
	Service   string
	Operation string
	Outcome   string // an Outcome…; OutcomeRefused for a refusal
	Status    int    // the plug-in's HTTP status, 0 when none
	Attempts  int
	Duration  time.Duration
	Reason    string // why a call was refused
}

// canWatch: may actor read plug-ins' health and exchanges? The operator,
// the platform, platform administrators and agency administrators (the
// catalogue is for reuse: an agency deciding to enable a plug-in needs to
// see how it behaves). The entries read hold no bodies, and the person
// and case they name are never returned.
func canWatch(actor platform.Actor) error {
	switch {
	case actor.Kind == platform.ActorOperator || actor.Kind == platform.ActorSystem:
		return nil
	case actor.Kind == platform.ActorStaff && actor.ID != "" && (actor.PlatformAdmin || slices.ContainsFunc(actor.Grants, func(g platform.Grant) bool { return g.Role == "agency_admin" })):
		return nil
	case actor.Kind == platform.ActorAnonymous || actor.ID == "":
		return platform.Errorf(platform.CodeUnauthorized, "sign in to see plug-ins' health")
	}
	return platform.Errorf(platform.CodeForbidden, "only administrators may see plug-ins' health")
}

// Health reads a plug-in's circuit state here and its calls of the last
// HealthWindow from the audit log, for actor.
func (g *Gateway) Health(ctx context.Context, actor platform.Actor, pluginID string) (Health, error) {
	if err := canWatch(actor); err != nil {
		return Health{}, err
	}
	h := Health{Circuit: g.Circuit(pluginID)}
	since := g.clock.Now().Add(-HealthWindow)
	calls, err := g.log.Recent(ctx, "plugin:"+pluginID, "plugin.call", since, HealthSample)
	if err != nil {
		return Health{}, fmt.Errorf("gateway: health of %s: %w", pluginID, err)
	}
	for _, e := range calls {
		if x := exchangeOf(e); x.Outcome != OutcomeOK {
			h.Failed++
		}
	}
	h.Sampled, h.Calls = len(calls), len(calls)
	if len(calls) == HealthSample {
		if h.Calls, err = g.log.Count(ctx, "plugin:"+pluginID, "plugin.call", since); err != nil {
			return Health{}, fmt.Errorf("gateway: health of %s: %w", pluginID, err)
		}
	}
	return h, nil
}

// RecentErrors returns up to n of a plug-in's latest exchanges that did
// not end "ok" (failed calls and refusals), newest first, for actor. It
// looks among the latest HealthSample calls and refusals, whatever their
// age, so a failure older than that many calls is no longer "recent".
func (g *Gateway) RecentErrors(ctx context.Context, actor platform.Actor, pluginID string, n int) ([]Exchange, error) {
	if err := canWatch(actor); err != nil {
		return nil, err
	}
	var out []Exchange
	for _, action := range []string{"plugin.call", "plugin.refuse"} {
		es, err := g.log.Recent(ctx, "plugin:"+pluginID, action, time.Time{}, HealthSample)
		if err != nil {
			return nil, fmt.Errorf("gateway: errors of %s: %w", pluginID, err)
		}
		for _, e := range es {
			if x := exchangeOf(e); x.Outcome != OutcomeOK {
				out = append(out, x)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Exchange) int { return b.At.Compare(a.At) })
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// exchangeOf reads an audit entry the gateway (plugin.call) or the
// registry (plugin.refuse) wrote.
func exchangeOf(e audit.Entry) Exchange {
	var d struct {
		Service    string `json:"service"`
		Operation  string `json:"operation"`
		Outcome    string `json:"outcome"`
		Status     int    `json:"status"`
		Attempts   int    `json:"attempts"`
		DurationMS int64  `json:"duration_ms"`
		Reason     string `json:"reason"`
	}
	_ = json.Unmarshal(e.Detail, &d) // a malformed detail shows as an unknown outcome
	x := Exchange{At: e.At, Action: e.Action, Agency: e.AgencyID, Service: d.Service, Operation: d.Operation, Outcome: d.Outcome,
		Status: d.Status, Attempts: d.Attempts, Duration: time.Duration(d.DurationMS) * time.Millisecond, Reason: d.Reason}
	if e.Action == "plugin.refuse" {
		x.Outcome = OutcomeRefused
	}
	if x.Outcome == "" {
		x.Outcome = OutcomeError
	}
	return x
}
