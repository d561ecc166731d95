package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/payment/stripeprovider"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestStripeWiring: a Stripe secret key makes Stripe a registered
// provider and the live one; with the webhook's signing secret the
// program serves POST /webhooks/stripe, which refuses an unsigned event
// and records a signed one; without either nothing of Stripe is there.
// (No call reaches Stripe: the events sent need no state from it.)
func TestStripeWiring(t *testing.T) {
	for _, tc := range []struct {
		name          string
		key, secret   string
		live, webhook bool
	}{
		{"no key", "", "", false, false},
		{"key without webhook secret", "sk_test_wiring", "", true, false},
		{"key and webhook secret", "sk_test_wiring", "whsec_wiring", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := config.Config{Addr: "127.0.0.1:8080", PublicURL: "https://services.example.gov", DataDir: t.TempDir(), DB: storagetest.MigratedURL(t, storage.SQLite),
				LogFormat: "text", LogLevel: 8, StripeSecretKey: tc.key, StripeWebhookSecret: tc.secret}
			if tc.key != "" {
				cfg.StripeAPIURL = "http://127.0.0.1:9"
			}
			if err := cfg.Finish(); err != nil {
				t.Fatal(err)
			}
			a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Stop(context.Background()) })
			if got := a.LiveProvider == stripeprovider.Name; got != tc.live {
				t.Errorf("live provider %q", a.LiveProvider)
			}
			if got := slices.Contains(a.Payments.Providers(), stripeprovider.Name); got != tc.live {
				t.Errorf("providers %v", a.Payments.Providers())
			}
			route := "POST " + stripeprovider.WebhookPath
			if got := slices.Contains(a.Web.Routes(), route); got != tc.webhook {
				t.Fatalf("route %s served: %v", route, got)
			}
			post := func(body, sig string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "https://services.example.gov"+stripeprovider.WebhookPath, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if sig != "" {
					req.Header.Set("Stripe-Signature", sig)
				}
				rec := httptest.NewRecorder()
				a.Web.ServeHTTP(rec, req)
				return rec
			}
			body := `{"id":"evt_wiring","object":"event","type":"customer.created","data":{"object":{"id":"cus_1","object":"customer"}}}`
			sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(body), Secret: tc.secret, Timestamp: time.Now()}).Header
			if !tc.webhook {
				if rec := post(body, sig); rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
					t.Fatalf("without the webhook: %d", rec.Code)
				}
				return
			}
			if rec := post(body, ""); rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("unsigned: %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			if rec := post(body, sig); rec.Code != http.StatusOK {
				t.Fatalf("signed: %d %s", rec.Code, rec.Body)
			}
			var n int
			if err := a.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM provider_webhook_events WHERE event_id = 'evt_wiring'`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("recorded %d %v", n, err)
			}
		})
	}
}
