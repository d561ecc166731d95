package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/platform"
)

// paidCheckout pays kase's requested fee in one checkout with a Fish &
// Wildlife item beside it, as the Pay page and the sandbox's return do
// (OpenCheckout, then Settle with the provider's success).
func paidCheckout(t *testing.T, a *app.App, kase casework.Case) payment.Checkout {
	t.Helper()
	ctx := context.Background()
	fees, err := a.Casework.Payments(ctx, kase.ID)
	if err != nil || len(fees) == 0 {
		t.Fatalf("the case asks for no fee: %v", err)
	}
	items := []payment.Item{
		{Kind: payment.ItemCasePayment, Source: strconv.FormatInt(fees[0].ID, 10), Agency: kase.AgencyID, Amount: fees[0].Amount, Currency: fees[0].Currency,
			Reference: kase.Reference, DescriptionEN: "Vehicle registration renewal", DescriptionES: "Renovación del registro del vehículo"},
		{Kind: payment.ItemObligation, Source: "receipt-test-licence", Agency: "fish-wildlife", Amount: 2500, Currency: "USD", Reference: "FW-1",
			DescriptionEN: "Fishing licence", DescriptionES: "Licencia de pesca"},
	}
	sys := platform.Actor{Kind: platform.ActorSystem, ID: "test"}
	var c payment.Checkout
	if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
		c, err = a.Payments.OpenCheckout(ctx, tx, sys, payment.OpenCheckout{Account: kase.AccountID, Language: "es", Items: items,
			ReturnURL: "https://portico.example.gov/pay/return"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if c, err = a.Payments.Settle(ctx, sys, c.ID, payment.Outcome{Status: payment.Success, CardBrand: "visa", LastDigits: "4242"}); err != nil {
		t.Fatal(err)
	}
	return c
}

func getBody(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestReceiptJourney runs the demo and pays Beto's renewal fee and a
// fishing licence in one checkout: through the real HTTP server Beto sees
// his receipt and downloads its PDF, Ana gets 404 for both; one receipt
// (email and inbox) reaches him in Spanish through the demo's SMTP
// mailbox however many success events the checkout made; his application
// page shows the payment with a link to the receipt, and the DMV's case
// page shows its own payment's amount and id with no card but the last
// four digits.
func TestReceiptJourney(t *testing.T) {
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	kase := openCase(t, a, "app-receipt", "beto.ciudadano@example.com", "vehicle-registration-renewal", vehicleAnswers)
	c := paidCheckout(t, a, kase)
	var dmvPayment string
	for _, it := range c.Items {
		if it.Agency == "dmv" {
			dmvPayment = it.PaymentID
		}
	}
	beto := signInClient(t, base, "beto.ciudadano@example.com", false)
	ana := signInClient(t, base, "ana.citizen@example.com", false)
	staff := signInClient(t, base, "casey.dmv@example.gov", true)

	page := base + "/pay/receipts/" + c.ID
	res, body := getBody(t, beto, page+"?lang=es")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("Beto's receipt: %d", res.StatusCode)
	}
	for _, want := range []string{"Recibo de pago", kase.Reference, dmvPayment, "$70.00", "Visa terminada en 4242", c.ID + ".pdf", "Departamento de Pesca y Vida Silvestre"} {
		if !strings.Contains(body, want) {
			t.Errorf("the receipt page lacks %q", want)
		}
	}
	res, pdf := getBody(t, beto, page+".pdf")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF-") ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment; filename=") {
		t.Errorf("PDF: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	for _, path := range []string{page, page + ".pdf"} {
		if res, body := getBody(t, ana, path); res.StatusCode != http.StatusNotFound || strings.Contains(body, kase.Reference) {
			t.Errorf("Ana asked for %s: %d", path, res.StatusCode)
		}
		if res, _ := getBody(t, staff, path); res.StatusCode != http.StatusNotFound {
			t.Errorf("DMV staff asked for %s: %d", path, res.StatusCode)
		}
	}

	// One receipt, by email (through SMTP to the demo's mailbox) and in
	// the inbox, though the checkout made two success events.
	mail := receiptMail(t, a, c.ID)
	if !strings.HasPrefix(mail.Subject, "Recibo de su pago de $70.00") || !strings.Contains(mail.To, "beto.ciudadano@example.com") ||
		!strings.Contains(mail.Text, "/pay/receipts/"+c.ID) || !strings.Contains(mail.Text, kase.Reference) {
		t.Errorf("receipt email: %q to %q\n%s", mail.Subject, mail.To, mail.Text)
	}
	// Let any later delivery of the events run, then count.
	time.Sleep(time.Second)
	ns, err := a.Notify.List(ctx, notify.Filter{Reference: receipt.Reference(c.ID)})
	if err != nil {
		t.Fatal(err)
	}
	channels := map[notify.Channel]int{}
	for _, n := range ns {
		channels[n.Channel]++
	}
	if channels[notify.ChannelEmail] != 1 || channels[notify.ChannelInApp] != 1 {
		t.Errorf("receipt notifications by channel: %v, want one email and one inbox message", channels)
	}

	// The application's history and the agency's case.
	res, body = getBody(t, beto, base+"/applications/"+kase.ID+"?lang=en")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Paid $45.00 online — reference "+kase.Reference) || !strings.Contains(body, `href="/pay/receipts/`+c.ID+`"`) {
		t.Errorf("Beto's application page (%d) lacks the payment and its receipt link", res.StatusCode)
	}
	res, body = getBody(t, staff, base+"/console/cases/"+kase.ID)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Paid online: $45.00, payment "+dmvPayment+" (card ending in 4242)") {
		t.Errorf("the DMV's case page (%d) lacks its payment", res.StatusCode)
	}
	if strings.Contains(body, "Visa") || strings.Contains(body, "$25.00") || strings.Contains(body, "/pay/receipts/") {
		t.Error("the DMV's case page shows the card brand, another agency's amount or the person's receipt")
	}
}
