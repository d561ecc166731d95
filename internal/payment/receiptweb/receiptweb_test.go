package receiptweb_test

import (
	"context"
	"database/sql"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/payment/receiptweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/web"
)

var update = flag.Bool("update", false, "rewrite golden files")

// paidAt: 21:04 UTC is 3:04 PM in Chicago, the demo state's zone.
var paidAt = time.Date(2026, 3, 5, 21, 4, 0, 0, time.UTC)

var system = platform.Actor{Kind: platform.ActorSystem, ID: "test"}

type agencies struct{}

func (agencies) AgencyName(_ context.Context, id string) (receipt.Text, error) {
	switch id {
	case "dmv":
		return receipt.Text{EN: "Department of Motor Vehicles", ES: "Departamento de Vehículos Motorizados"}, nil
	case "adams-treasurer":
		return receipt.Text{EN: "Adams County Treasurer", ES: "Tesorería del Condado de Adams"}, nil
	}
	return receipt.Text{}, platform.Errorf(platform.CodeNotFound, "no agency %s", id)
}

type nobody struct{}

func (nobody) Contact(context.Context, string) (receipt.Contact, error) {
	return receipt.Contact{Lang: "en"}, nil
}
func (nobody) MailReceipt(context.Context, *sql.Tx, receipt.Message) (string, error) {
	return "", nil
}

// asHeader stands in for the identity block's "signed in" rule (its own
// tests and the demo journey in cmd/portico check it): the person is named
// by a test header, and no header is anonymous.
type asHeader struct{ fallback string }

func (a asHeader) RequireSignedIn(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Test-Account")
		if id == "" {
			id = a.fallback
		}
		if id == "" {
			http.Error(w, "sign in", http.StatusUnauthorized)
			return
		}
		fn(w, r.WithContext(platform.WithActor(r.Context(), platform.Actor{Kind: platform.ActorCitizen, ID: id})))
	})
}

type rig struct {
	server   *web.Server
	checkout payment.Checkout // Ana's, paid
	unpaid   payment.Checkout // Ana's, declined
}

// newRig serves the receipt pages over real payment and receipt blocks on
// db, with a checkout of Ana's paying the DMV and the county treasurer.
func newRig(t testing.TB, db *storage.DB, signedIn string) rig {
	t.Helper()
	ctx := context.Background()
	clock := platform.NewFakeClock(paidAt)
	bus := events.NewBus(clock)
	log := audit.New(db, clock, nil)
	pay, err := payment.NewService(db, log, bus, clock)
	if err != nil {
		t.Fatal(err)
	}
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	zone := func(context.Context) *time.Location { return chicago }
	rs, err := receipt.New(receipt.Config{DB: db, Audit: log, Bus: bus, Payments: pay, Agencies: agencies{}, Contacts: nobody{}, Mailer: nobody{},
		Clock: clock, PublicURL: func() string { return "https://portico.example.gov" }, Zone: zone})
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{Zone: zone}, slog.New(slog.DiscardHandler), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := receiptweb.Register(s, rs, asHeader{fallback: signedIn}); err != nil {
		t.Fatal(err)
	}
	items := []payment.Item{
		{Kind: payment.ItemCasePayment, Source: "11", Agency: "dmv", Amount: 4500, Currency: "USD", Reference: "DMV-2026-000123",
			DescriptionEN: "Vehicle registration renewal", DescriptionES: "Renovación del registro del vehículo"},
		{Kind: payment.ItemObligation, Source: "ob-1", Agency: "adams-treasurer", Amount: 61250, Currency: "USD", Reference: "PARCEL-9",
			DescriptionEN: "Property tax, first instalment", DescriptionES: "Impuesto sobre la propiedad, primer plazo"},
	}
	open := func(its []payment.Item) payment.Checkout {
		var c payment.Checkout
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			c, err = pay.OpenCheckout(ctx, tx, system, payment.OpenCheckout{Account: "acct-ana", Items: its, ReturnURL: "https://portico.example.gov/pay/return"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open(items)
	if c, err = pay.Settle(ctx, system, c.ID, payment.Outcome{Status: payment.Success, CardBrand: "visa", LastDigits: "4242"}); err != nil {
		t.Fatal(err)
	}
	other := items[0]
	other.Source = "12" // another fee: an item is paid by one checkout at a time
	u := open([]payment.Item{other})
	if u, err = pay.Settle(ctx, system, u.ID, payment.Outcome{Status: payment.Failed, Code: payment.CodeRejected}); err != nil {
		t.Fatal(err)
	}
	return rig{server: s, checkout: c, unpaid: u}
}

func (r rig) get(t *testing.T, path, account, lang string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Accept-Language", lang)
	if account != "" {
		req.Header.Set("X-Test-Account", account)
	}
	w := httptest.NewRecorder()
	r.server.ServeHTTP(w, req)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// anonymise replaces the checkout's random ids with fixed names, so the
// page can be compared with a golden file.
func (r rig) anonymise(s string) string {
	s = strings.ReplaceAll(s, r.checkout.ID, "CHECKOUT")
	for i, id := range r.checkout.Payments {
		s = strings.ReplaceAll(s, id, "PAYMENT"+strconv.Itoa(i+1))
	}
	return web.UnhashAssets(s)
}

func golden(t *testing.T, db *storage.DB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update && db.Dialect == storage.SQLite {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/payment/receiptweb -update)", err)
	}
	if got != string(want) {
		g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(g) && i < len(w); i++ {
			if g[i] != w[i] {
				t.Fatalf("%s differs from the golden file at line %d (run with -update and review the diff):\n got: %s\nwant: %s", path, i+1, g[i], w[i])
			}
		}
		t.Fatalf("%s differs from the golden file in length (%d lines, want %d)", path, len(g), len(w))
	}
}

// TestReceiptPages: the payer sees the receipt page (golden, both
// languages) and downloads its PDF; another person, and a made-up id, get
// 404; a declined checkout's page says it is not paid and has no PDF.
func TestReceiptPages(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db, "")
		page := "/pay/receipts/" + r.checkout.ID
		for _, lang := range []string{"en", "es"} {
			res, body := r.get(t, page, "acct-ana", lang)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d\n%s", lang, res.StatusCode, body)
			}
			if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("Cache-Control %q", cc)
			}
			golden(t, db, "receipt."+lang+".html", r.anonymise(body))
		}
		res, body := r.get(t, page+".pdf", "acct-ana", "es")
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(body, "%PDF-") {
			t.Fatalf("PDF: %d %q %.20q", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename=recibo-`+r.checkout.ID+`.pdf` {
			t.Errorf("Content-Disposition %q", cd)
		}
		if res, _ = r.get(t, page+".pdf", "acct-ana", "en"); res.Header.Get("Content-Disposition") != `attachment; filename=receipt-`+r.checkout.ID+`.pdf` {
			t.Errorf("English Content-Disposition %q", res.Header.Get("Content-Disposition"))
		}
		for _, tc := range []struct{ name, path, account string }{
			{"another person's receipt", page, "acct-beto"},
			{"another person's PDF", page + ".pdf", "acct-beto"},
			{"an unknown checkout", "/pay/receipts/" + strings.Repeat("b", 26), "acct-ana"},
			{"a malformed id", "/pay/receipts/x.y.pdf", "acct-ana"},
			{"a declined checkout's PDF", "/pay/receipts/" + r.unpaid.ID + ".pdf", "acct-ana"},
		} {
			if res, body := r.get(t, tc.path, tc.account, "en"); res.StatusCode != http.StatusNotFound || strings.Contains(body, "DMV-2026") {
				t.Errorf("%s: %d", tc.name, res.StatusCode)
			}
		}
		res, body = r.get(t, "/pay/receipts/"+r.unpaid.ID, "acct-ana", "en")
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "This payment has not been made") || strings.Contains(body, ".pdf") {
			t.Errorf("declined checkout's page: %d\n%s", res.StatusCode, body)
		}
		if res, _ := r.get(t, page, "", "en"); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous: %d", res.StatusCode)
		}
	})
}

// TestBrowserReceipt: the receipt page and the not-paid page are axe-clean
// and reflow at desktop and phone widths, in English and Spanish.
func TestBrowserReceipt(t *testing.T) {
	b := browsertest.New(t)
	r := newRig(t, storagetest.Open(t, storage.SQLite), "acct-ana")
	srv := httptest.NewServer(r.server)
	t.Cleanup(srv.Close)
	p := b.Page(t)
	for _, lang := range []string{"en", "es"} {
		p.CheckEverywhere(t, "receipt-"+lang, srv.URL+"/pay/receipts/"+r.checkout.ID+"?lang="+lang, 1280, 390)
		if got := p.Text(t, "#receipt-total"); !strings.Contains(got, "$657.50") {
			t.Errorf("%s total %q", lang, got)
		}
		p.CheckEverywhere(t, "receipt-unpaid-"+lang, srv.URL+"/pay/receipts/"+r.unpaid.ID+"?lang="+lang, 1280, 390)
	}
}

// FuzzReceiptPath: whatever follows /pay/receipts/, the answer is the
// payer's receipt (its id, with or without .pdf) or 404, never a server
// error and never someone's receipt by another name.
func FuzzReceiptPath(f *testing.F) {
	r := newRig(f, storagetest.Open(f, storage.SQLite), "acct-ana")
	for _, s := range []string{r.checkout.ID, r.checkout.ID + ".pdf", r.unpaid.ID, "x.pdf", ".pdf", strings.ToUpper(r.checkout.ID), r.checkout.ID + ".pdf.pdf", "%2e%2e", "ä"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		req := httptest.NewRequest("GET", "/pay/receipts/x", nil)
		req.URL.Path = "/pay/receipts/" + file
		req.URL.RawPath = ""
		w := httptest.NewRecorder()
		r.server.ServeHTTP(w, req)
		switch code := w.Code; {
		case code >= 500:
			t.Fatalf("%q: %d", file, code)
		case code == http.StatusOK:
			if file != r.checkout.ID && file != r.checkout.ID+".pdf" && file != r.unpaid.ID {
				t.Fatalf("%q answered 200", file)
			}
		}
	})
}
