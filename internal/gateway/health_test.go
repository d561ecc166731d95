package gateway_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestHealth: real calls to a plug-in on loopback that answer, fail and
// are refused; Health counts them from the audit log with the circuit's
// state, RecentErrors lists the failures and the refusal newest first,
// and only administrators may read either.
func TestHealth(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		env := gatewaytest.New(t, db, gatewaytest.Timeouts{Find: "300ms", Renew: "300ms"})
		env.GiveConsent(t, "acct-ana-0001") // the calls below are for Ana, carrying her data
		real := vehicleregistry.NewServer(vehicleregistry.Config{Issuer: env.Issuer.URL}).Handler()
		g := env.Gateway(t, gateway.Config{Retries: gateway.NoRetries, BreakerFailures: 2, BreakerOpen: time.Hour})
		admin := platform.Actor{Kind: platform.ActorStaff, ID: "pat", PlatformAdmin: true}

		if h, err := g.Health(ctx, admin, "vehicle-registry"); err != nil || h != (gateway.Health{Circuit: gateway.CircuitClosed}) {
			t.Fatalf("before any call: %+v, %v", h, err)
		}
		env.SetHandler(real)
		for range 3 {
			if _, err := g.Call(ctx, eli, find("EX4KQ218")); err != nil {
				t.Fatal(err)
			}
		}
		// Refused: the DMV's services may not send the date of birth.
		r := find("EX4KQ218")
		r.Data["date_of_birth"] = "1990-01-01"
		if _, err := g.Call(ctx, eli, r); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Fatalf("call with undeclared data: %v", err)
		}
		// Two server errors open the circuit; the third call meets it open.
		env.SetHandler(status(http.StatusInternalServerError, "application/json", `{}`))
		for range 3 {
			if _, err := g.Call(ctx, eli, find("EX4KQ218")); platform.ErrorCode(err) != platform.CodeUnavailable {
				t.Fatalf("failing call: %v", err)
			}
		}

		h, err := g.Health(ctx, admin, "vehicle-registry")
		if err != nil {
			t.Fatal(err)
		}
		if want := (gateway.Health{Circuit: gateway.CircuitOpen, Calls: 6, Sampled: 6, Failed: 3}); h != want {
			t.Errorf("Health = %+v, want %+v", h, want)
		}
		if h.FailureRate() != 0.5 {
			t.Errorf("FailureRate = %v", h.FailureRate())
		}
		if g.Circuit("counter-booking") != gateway.CircuitClosed {
			t.Errorf("a plug-in never called here is %s", g.Circuit("counter-booking"))
		}

		errs, err := g.RecentErrors(ctx, admin, "vehicle-registry", 3)
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []string
		for _, x := range errs {
			outcomes = append(outcomes, x.Outcome)
			if x.Operation != "find-vehicle" || x.Service != "vehicle-registration-renewal" || x.Agency != "dmv" || x.At.IsZero() {
				t.Errorf("exchange %+v", x)
			}
		}
		if want := []string{gateway.OutcomeCircuitOpen, gateway.OutcomeError, gateway.OutcomeError}; !slices.Equal(outcomes, want) {
			t.Errorf("RecentErrors(3) outcomes = %q, want %q", outcomes, want)
		}
		if errs[1].Status != 500 || errs[1].Attempts != 1 {
			t.Errorf("a server error: %+v", errs[1])
		}
		all, err := g.RecentErrors(ctx, admin, "vehicle-registry", 10)
		if err != nil || len(all) != 4 || all[3].Outcome != gateway.OutcomeRefused || all[3].Reason == "" {
			t.Fatalf("RecentErrors(10) = %+v, %v", all, err)
		}

		for _, tc := range []struct {
			name  string
			actor platform.Actor
			code  platform.Code
		}{
			{"platform administrator", admin, ""},
			{"agency administrator of another agency", platform.Actor{Kind: platform.ActorStaff, ID: "gus", Grants: []platform.Grant{{Agency: "revenue", Role: "agency_admin"}}}, ""},
			{"operator", platform.Actor{Kind: platform.ActorOperator, ID: "root"}, ""},
			{"caseworker", eli, platform.CodeForbidden},
			{"citizen", platform.Actor{Kind: platform.ActorCitizen, ID: ana}, platform.CodeForbidden},
			{"anonymous", platform.Actor{}, platform.CodeUnauthorized},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := g.Health(ctx, tc.actor, "vehicle-registry")
				if platform.ErrorCode(err) != tc.code {
					t.Errorf("Health: %v, want %q", err, tc.code)
				}
				_, err = g.RecentErrors(ctx, tc.actor, "vehicle-registry", 5)
				if platform.ErrorCode(err) != tc.code {
					t.Errorf("RecentErrors: %v, want %q", err, tc.code)
				}
			})
		}
	})
}
