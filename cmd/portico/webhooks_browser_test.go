package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
)

// TestBrowserWebhookDeliveries opens a plug-in's deliveries in the console
// as the DMV's agency administrator (English) and the platform
// administrator (Spanish), named as the catalogue names them (the
// plug-in's and the agency's names, not their ids, with a link back to
// the plug-in): a dead letter is listed with its last answer,
// Replay sends it again to the demo's vehicle-registry plug-in (which
// verifies the signature), and the page says so. Every page is checked
// with CheckEverywhere at 1280, 390 and 320 px.
func TestBrowserWebhookDeliveries(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	url := ""
	if err := a.DB.Read().QueryRowContext(ctx, `SELECT url FROM webhook_deliveries WHERE plugin_id = 'vehicle-registry' LIMIT 1`).Scan(&url); err != nil {
		// No demo event has gone out yet: the webhook is the manifest's.
		p, err := a.Plugins.Subscribers(ctx, "dmv", "", "vehicle-registry")
		if err != nil || len(p) != 1 {
			t.Fatalf("vehicle-registry is not enabled for the DMV: %v %v", p, err)
		}
		url = p[0].Webhook
	}
	// A dead letter as a plug-in that was down for a day leaves it.
	deadLetter := func(id, event string) {
		body := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/portico/casework","type":"gov.portico.case.transitioned","time":"2026-12-01T10:00:00Z","porticoagency":"dmv","data":{}}`, event)
		now := time.Now().UTC()
		if _, err := a.DB.Write().ExecContext(ctx, `INSERT INTO webhook_deliveries (id, event_id, event_type, event_time, plugin_id, agency_id, url, body, status, attempts, last_status, last_error, created_at, updated_at)
			VALUES ($1, $2, 'gov.portico.case.transitioned', $3, 'vehicle-registry', 'dmv', $4, $5, 'dead', 13, 503, 'answered 503 Service Unavailable', $3, $3)`,
			id, event, now, url, body); err != nil {
			t.Fatal(err)
		}
	}
	usedTOTP := totpSteps{}
	for i, j := range []struct{ lang, email, replayed, status, heading, agency, back, caption string }{
		{"en", "dana.dmv-admin@example.gov", "1 delivery was queued again.", "Dead letter",
			"Event deliveries of DMV vehicle records", "Department of Motor Vehicles", "Back to DMV vehicle records", "Dead letters"},
		{"es", "pat.admin@example.gov", "Se volvió a poner en cola 1 entrega.", "Entrega fallida",
			"Entregas de eventos de Registros de vehículos del DMV", "Departamento de Vehículos Motorizados", "Volver a Registros de vehículos del DMV", "Entregas fallidas"},
	} {
		t.Run(j.lang, func(t *testing.T) {
			id, event := fmt.Sprintf("0190a1b2-0000-7000-8000-0000000dea0%d", i), fmt.Sprintf("0190a1b2-0000-7000-8000-0000000e0e0%d", i)
			deadLetter(id, event)
			p := b.Page(t)
			signInBrowser(t, p, base, j.email, j.lang, true, usedTOTP)
			page := base + "/console/plugins/vehicle-registry/deliveries?lang=" + j.lang
			p.CheckEverywhere(t, "webhook-deliveries-"+j.lang, page)
			if got := strings.ToLower(p.Text(t, "main table")); !strings.Contains(got, strings.ToLower(j.status)) || !strings.Contains(got, "503") {
				t.Errorf("the table does not show the dead letter: %q", got)
			}
			if got := p.Text(t, "main h1"); got != j.heading {
				t.Errorf("heading %q, want %q", got, j.heading)
			}
			if got := p.Text(t, "main tbody td"); got != j.agency { // the first row's agency
				t.Errorf("the agency column says %q, want %q", got, j.agency)
			}
			if got := p.Text(t, `main a[href="/console/plugins/vehicle-registry"]`); got != j.back {
				t.Errorf("the link back to the plug-in says %q, want %q", got, j.back)
			}
			if got := p.Text(t, "main"); strings.Contains(got, "vehicle-registry") {
				t.Errorf("the page shows ids to people: %q", got)
			}
			// The last answer is the status code, not the stored English
			// error text that repeats it.
			if got := p.Text(t, "main table"); strings.Contains(got, "answered") {
				t.Errorf("the last answer shows the stored error text: %q", got)
			}
			p.Visit(t, page+"&dead=1")
			if got := p.Text(t, "main table caption"); got != j.caption {
				t.Errorf("the dead letters' caption is %q, want %q", got, j.caption)
			}
			p.Visit(t, page)
			p.Run(t, chromedp.EmulateViewport(1280, 900),
				chromedp.Click(chromedp.CSS(`form[action$="/replay"] input[value="`+id+`"] ~ button`)),
				chromedp.WaitVisible(chromedp.CSS(".usa-alert--success")))
			if got := p.Text(t, ".usa-alert--success"); !strings.Contains(got, j.replayed) {
				t.Errorf("after replay: %q, want %q", got, j.replayed)
			}
			p.CheckHere(t, "webhook-replayed-"+j.lang)
			var status string
			for range 200 {
				if err := a.DB.Read().QueryRowContext(ctx, `SELECT status FROM webhook_deliveries WHERE id = $1`, id).Scan(&status); err != nil {
					t.Fatal(err)
				}
				if status == "delivered" {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if status != "delivered" {
				t.Errorf("the replayed delivery is %s, want delivered to the demo plug-in", status)
			}
		})
	}
}
