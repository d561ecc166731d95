package receipt_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"database/sql"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/unicode"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// paidAt is the fixed clock: 21:04 UTC is 3:04 PM in Chicago.
var paidAt = time.Date(2026, 3, 5, 21, 4, 0, 0, time.UTC)

var chicago = mustZone("America/Chicago")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

var system = platform.Actor{Kind: platform.ActorSystem, ID: "test"}

// agencies names the two agencies of the fixture in both languages.
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

type contacts map[string]receipt.Contact

func (c contacts) Contact(_ context.Context, id string) (receipt.Contact, error) { return c[id], nil }

// outbox records what the receipts queued, in the transaction they gave:
// a message counts only if that transaction commits (it is written to a
// table of the test's own, created in the test database).
type outbox struct {
	mu   sync.Mutex
	sent []receipt.Message
}

func (o *outbox) MailReceipt(ctx context.Context, tx *sql.Tx, m receipt.Message) (string, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO test_outbox (reference, subject) VALUES ($1, $2)`, m.Reference, m.Subject); err != nil {
		return "", err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
	return "n-" + m.Reference, nil
}

type fixture struct {
	db       *storage.DB
	payments *payment.Service
	receipts *receipt.Service
	outbox   *outbox
	bus      *events.Bus
}

func newFixture(t *testing.T, db *storage.DB) fixture {
	t.Helper()
	clock := platform.NewFakeClock(paidAt)
	bus := events.NewBus(clock)
	log := audit.New(db, clock, nil)
	pay, err := payment.NewService(db, log, bus, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write().Exec(`CREATE TABLE test_outbox (reference TEXT NOT NULL, subject TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	ob := &outbox{}
	rs, err := receipt.New(receipt.Config{DB: db, Audit: log, Bus: bus, Payments: pay, Agencies: agencies{}, Clock: clock,
		Contacts: contacts{"acct-ana": {Email: "ana@example.com", Lang: "en"}, "acct-beto": {Email: "beto@example.com", Lang: "es"}},
		Mailer:   ob, PublicURL: func() string { return "https://portico.example.gov/" },
		Zone: func(context.Context) *time.Location { return chicago }})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{db: db, payments: pay, receipts: rs, outbox: ob, bus: bus}
}

// items are a DMV renewal fee and two property-tax items of the county
// treasurer: one checkout, two agency payments.
var items = []payment.Item{
	{Kind: payment.ItemCasePayment, Source: "11", Agency: "dmv", Amount: 4500, Currency: "USD", Reference: "DMV-2026-000123",
		DescriptionEN: "Vehicle registration renewal", DescriptionES: "Renovación del registro del vehículo"},
	{Kind: payment.ItemObligation, Source: "ob-1", Agency: "adams-treasurer", Amount: 61250, Currency: "USD", Reference: "PARCEL-9",
		DescriptionEN: "Property tax, first instalment", DescriptionES: "Impuesto sobre la propiedad, primer plazo"},
	{Kind: payment.ItemObligation, Source: "ob-2", Agency: "adams-treasurer", Amount: 100, Currency: "USD",
		DescriptionEN: "Late filing fee", DescriptionES: "Recargo por presentación tardía (año 2025)"},
}

// others are its as other fees and obligations (other sources): an item
// is paid by one checkout at a time, so a second checkout of the same
// items is refused.
func others(its []payment.Item) []payment.Item {
	out := make([]payment.Item, len(its))
	for i, it := range its {
		it.Source = "other-" + it.Source
		out[i] = it
	}
	return out
}

// open opens a checkout of its for account.
func (f fixture) open(t *testing.T, account string, its []payment.Item) payment.Checkout {
	t.Helper()
	ctx := context.Background()
	var c payment.Checkout
	if err := f.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = f.payments.OpenCheckout(ctx, tx, system, payment.OpenCheckout{Account: account, Items: its, ReturnURL: "https://portico.example.gov/pay/return"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// pay settles c as the provider's return does after a successful card.
func (f fixture) pay(t *testing.T, c payment.Checkout) payment.Checkout {
	t.Helper()
	got, err := f.payments.Settle(context.Background(), system, c.ID, payment.Outcome{Status: payment.Success, CardBrand: "visa", LastDigits: "4242"})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func citizen(id string) platform.Actor { return platform.Actor{Kind: platform.ActorCitizen, ID: id} }

func auditCount(t *testing.T, db *storage.DB, action, subject string) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(`SELECT COUNT(*) FROM audit_entries WHERE action = $1 AND subject = $2`, action, subject).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestViewPolicy: only the person who paid sees a checkout's receipt;
// everyone else, and ids that are not checkouts, get not found. Every
// read and every refusal of a real checkout is audited.
func TestViewPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.pay(t, f.open(t, "acct-ana", items))
		agencyOwn := f.open(t, "", others(items[:1])) // an agency's payment without a person
		tests := []struct {
			name   string
			actor  platform.Actor
			id     string
			ok     bool
			audits string // the audit action expected, "" for none
		}{
			{"the payer", citizen("acct-ana"), c.ID, true, "payment.receipt.read"},
			{"another citizen", citizen("acct-beto"), c.ID, false, "payment.receipt.refuse"},
			{"staff of a paid agency", platform.Actor{Kind: platform.ActorStaff, ID: "s1", Grants: []platform.Grant{{Agency: "dmv", Role: "finance"}}}, c.ID, false, "payment.receipt.refuse"},
			{"a platform administrator", platform.Actor{Kind: platform.ActorStaff, ID: "pat", PlatformAdmin: true}, c.ID, false, "payment.receipt.refuse"},
			{"the operator", platform.Actor{Kind: platform.ActorOperator, ID: "op"}, c.ID, false, "payment.receipt.refuse"},
			{"anonymous", platform.Actor{Kind: platform.ActorAnonymous}, c.ID, false, "payment.receipt.refuse"},
			{"a checkout that is no person's", citizen(""), agencyOwn.ID, false, "payment.receipt.refuse"},
			{"an unknown id", citizen("acct-ana"), strings.Repeat("a", 26), false, ""},
			{"an id of another shape", citizen("acct-ana"), "../" + c.ID, false, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := 0
				if tc.audits != "" {
					before = auditCount(t, db, tc.audits, "checkout:"+tc.id)
				}
				r, err := f.receipts.View(ctx, tc.actor, tc.id)
				if tc.ok {
					if err != nil || !r.Paid() || r.CheckoutID != c.ID || len(r.Parts) != 2 {
						t.Fatalf("View = %+v, %v", r, err)
					}
				} else if platform.ErrorCode(err) != platform.CodeNotFound {
					t.Fatalf("View = %+v, %v; want not found", r, err)
				}
				if tc.audits != "" {
					if got := auditCount(t, db, tc.audits, "checkout:"+tc.id); got != before+1 {
						t.Errorf("%s entries: %d, want %d", tc.audits, got, before+1)
					}
				}
			})
		}
	})
}

// TestReceiptContent: the receipt of a two-agency checkout has one part
// per agency with its own items, reference, payment id and amount, the
// card, and the time of payment; an unpaid checkout is no receipt.
func TestReceiptContent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		open := f.open(t, "acct-ana", items)
		r, err := f.receipts.View(ctx, citizen("acct-ana"), open.ID)
		if err != nil || r.Paid() || !r.PaidAt.IsZero() {
			t.Fatalf("an unpaid checkout: %+v %v", r, err)
		}
		if d := receipt.Layout(r, "en", chicago); d.Title != "This payment has not been made" || len(d.Facts) != 0 {
			t.Errorf("unpaid layout %+v", d)
		}
		c := f.pay(t, open)
		if r, err = f.receipts.View(ctx, citizen("acct-ana"), c.ID); err != nil {
			t.Fatal(err)
		}
		if !r.PaidAt.Equal(paidAt) || r.Amount != 65850 || r.LastDigits != "4242" || r.CardBrand != "visa" {
			t.Fatalf("receipt %+v", r)
		}
		want := map[string]struct {
			amount int64
			lines  int
			ref    string
		}{"dmv": {4500, 1, "DMV-2026-000123"}, "adams-treasurer": {61350, 2, c.ID}}
		for _, p := range r.Parts {
			w := want[p.Agency]
			if p.Amount != w.amount || len(p.Lines) != w.lines || p.Reference != w.ref || p.PaymentID == "" || p.AgencyName.EN == "" {
				t.Errorf("part %+v, want %+v", p, w)
			}
		}
	})
}

// fixedReceipt is a receipt with fixed ids, for the golden files.
func fixedReceipt() receipt.Receipt {
	return receipt.Receipt{CheckoutID: "k7q2m4x6c3v5b7n2p4r6t3w5y7", Account: "acct-ana", Status: payment.Success, PaidAt: paidAt,
		Amount: 65850, Currency: "USD", CardBrand: "visa", LastDigits: "4242",
		Parts: []receipt.Part{
			{PaymentID: "a2b3c4d5e6f7g2h3i4j5k6l7m2", Agency: "adams-treasurer", Reference: "k7q2m4x6c3v5b7n2p4r6t3w5y7", Amount: 61350,
				AgencyName: receipt.Text{EN: "Adams County Treasurer", ES: "Tesorería del Condado de Adams"},
				Lines: []receipt.Line{{Description: receipt.Text{EN: "Property tax, first instalment", ES: "Impuesto sobre la propiedad, primer plazo"}, Amount: 61250},
					{Description: receipt.Text{EN: "Late filing fee", ES: "Recargo por presentación tardía (año 2025)"}, Amount: 100}}},
			{PaymentID: "z7y6x5w4v3u2t7s6r5q4p3o2n7", Agency: "dmv", Reference: "DMV-2026-000123", Amount: 4500,
				AgencyName: receipt.Text{EN: "Department of Motor Vehicles", ES: "Departamento de Vehículos Motorizados"},
				Lines:      []receipt.Line{{Description: receipt.Text{EN: "Vehicle registration renewal", ES: "Renovación del registro del vehículo"}, Amount: 4500}}},
		}}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestGoldenText: the receipt's text and its email, in both languages,
// with the time in the jurisdiction's zone and US dates in English.
func TestGoldenText(t *testing.T) {
	r := fixedReceipt()
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			golden(t, "receipt."+lang+".txt", receipt.Layout(r, lang, chicago).Text())
			m := receipt.Email(r, receipt.Contact{Email: "ana@example.com", Lang: lang}, chicago, "https://portico.example.gov/pay/receipts/"+r.CheckoutID)
			golden(t, "email."+lang+".txt", "Subject: "+m.Subject+"\n\n"+m.Text)
		})
	}
	if d := receipt.Layout(r, "en", chicago); !strings.Contains(d.Lead, "March 5, 2026, 3:04 PM") {
		t.Errorf("lead %q: want the US date and the Chicago time", d.Lead)
	}
	r.Live = false
	if d := receipt.Layout(r, "en", chicago); !strings.Contains(d.Text(), "test payment") {
		t.Errorf("a sandbox payment's receipt must say it took no money:\n%s", d.Text())
	}
}

var (
	streamRE = regexp.MustCompile(`(?s)stream\r?\n(.*?)endstream`)
	tjRE     = regexp.MustCompile(`\(((?:\\.|[^\\)])*)\) ?Tj`)
)

// pdfText extracts the strings the PDF's pages show (fpdf writes each
// cell's text as a literal string shown with Tj), decoded from UTF-16BE
// (the embedded Unicode font's encoding), joined by spaces.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	var parts []string
	for _, m := range streamRE.FindAllSubmatch(b, -1) {
		zr, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue // not a flate stream
		}
		content, err := io.ReadAll(zr)
		if err != nil {
			continue
		}
		for _, s := range tjRE.FindAllSubmatch(content, -1) {
			raw := regexp.MustCompile(`\\(.)`).ReplaceAll(s[1], []byte("$1"))
			utf, err := unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder().Bytes(raw)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, string(utf))
		}
	}
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

// shown is what a document's PDF must show, in order.
func shown(d receipt.Document) string {
	parts := []string{d.Title, d.Lead}
	for _, f := range d.Facts {
		parts = append(parts, f.Label, f.Value)
	}
	for _, s := range d.Sections {
		parts = append(parts, s.Agency)
		for _, f := range s.Facts {
			parts = append(parts, f.Label, f.Value)
		}
		for _, l := range s.Lines {
			parts = append(parts, l.Label, l.Value)
		}
	}
	parts = append(parts, d.Total.Label, d.Total.Value)
	parts = append(parts, d.Notes...)
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

// TestPDF: the PDF shows every word of the receipt, Spanish accents,
// Vietnamese and Polish names and curly quotes included (read back from
// its content stream), and the same receipt gives the same bytes.
func TestPDF(t *testing.T) {
	r := fixedReceipt()
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			d := receipt.Layout(r, lang, chicago)
			b, err := receipt.PDF(d, r.PaidAt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.Contains(b, []byte("%%EOF")) {
				t.Fatalf("not a PDF: %q", b[:min(len(b), 20)])
			}
			if got, want := pdfText(t, b), shown(d); got != want {
				t.Errorf("the PDF shows\n%s\nwant\n%s", got, want)
			}
			again, _ := receipt.PDF(d, r.PaidAt)
			if !bytes.Equal(b, again) {
				t.Error("two PDFs of one receipt differ")
			}
			if !bytes.Contains(b, []byte("/Lang ("+lang+")")) {
				t.Error("the PDF does not declare its language")
			}
		})
	}
	es := pdfText(t, must(receipt.PDF(receipt.Layout(r, "es", chicago), r.PaidAt)))
	for _, w := range []string{"Renovación", "Vehículos", "presentación tardía (año 2025)", "5 de marzo de 2026"} {
		if !strings.Contains(es, w) {
			t.Errorf("the Spanish PDF lacks %q: %s", w, es)
		}
	}
	// Names and places outside Windows-1252 print as written, not "?".
	r.Parts[1].AgencyName.EN = "Łódź County Clerk"
	r.Parts[1].Lines[0].Description.EN = "Dog licence for Nguyễn Văn An and O’Brien’s “Rex” — €0"
	d := receipt.Layout(r, "en", chicago)
	b := must(receipt.PDF(d, r.PaidAt))
	if got := pdfText(t, b); got != shown(d) || !strings.Contains(got, "Nguyễn Văn An and O’Brien’s “Rex” — €0") || !strings.Contains(got, "Łódź") {
		t.Errorf("the PDF shows\n%s\nwant\n%s", got, shown(d))
	}
	if bytes.Contains(b, []byte("Helvetica")) || !bytes.Contains(bytes.ToLower(b), []byte("/basefont /utf8dejavusans")) {
		t.Error("the PDF is not set in the embedded DejaVu Sans")
	}
	if _, err := receipt.PDF(receipt.Layout(receipt.Receipt{Status: payment.Failed}, "en", chicago), time.Time{}); err == nil {
		t.Error("a PDF without a payment time was made")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// succeeded returns the payment-succeeded events in the log.
func succeeded(t *testing.T, db *storage.DB) []events.Event {
	t.Helper()
	ctx := context.Background()
	if _, err := events.Sequence(ctx, db, 0); err != nil {
		t.Fatal(err)
	}
	all, err := events.Read(ctx, db, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Event
	for _, e := range all {
		if e.Type == payment.EventSucceeded {
			out = append(out, e)
		}
	}
	return out
}

// TestOneReceiptPerCheckout: a two-agency checkout emits two success
// events; delivered twice each, and concurrently, they send exactly one
// receipt, in the payer's language, linking to the receipt page. A failed
// checkout and an agency's own payment send none.
func TestOneReceiptPerCheckout(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.pay(t, f.open(t, "acct-beto", items))
		failed := f.open(t, "acct-ana", others(items[:1]))
		if _, err := f.payments.Settle(ctx, system, failed.ID, payment.Outcome{Status: payment.Failed, Code: payment.CodeRejected}); err != nil {
			t.Fatal(err)
		}
		n := payment.New{Agency: "dmv", Amount: 1200, Reference: "API-1", Description: "Permit", ReturnURL: "https://dmv.example.gov/done"}
		var own payment.Checkout
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			own, err = f.payments.OpenCheckout(ctx, tx, system, payment.OpenCheckout{Payment: &n})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		f.pay(t, own)
		evs := succeeded(t, db)
		if len(evs) != 3 {
			t.Fatalf("%d success events, want 3 (two agencies of one checkout, one agency payment)", len(evs))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2*len(evs))
		for range 2 {
			for _, e := range evs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- f.receipts.Handle(ctx, e)
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !strings.Contains(err.Error(), "database is locked") {
				t.Fatal(err)
			}
		}
		// A delivery that lost a race to a lock is retried by the
		// dispatcher; do as it does.
		for _, e := range evs {
			if err := f.receipts.Handle(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if len(f.outbox.sent) != 1 {
			t.Fatalf("%d receipts sent, want 1: %+v", len(f.outbox.sent), f.outbox.sent)
		}
		m := f.outbox.sent[0]
		if m.AccountID != "acct-beto" || m.Email != "beto@example.com" || m.Lang != "es" || m.Reference != receipt.Reference(c.ID) ||
			!strings.Contains(m.Text, "https://portico.example.gov/pay/receipts/"+c.ID) || !strings.Contains(m.Subject, "$658.50") {
			t.Errorf("receipt message %+v", m)
		}
		var rows int
		if err := db.Read().QueryRow(`SELECT COUNT(*) FROM test_outbox`).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("committed messages: %d %v", rows, err)
		}
		var note string
		if err := db.Read().QueryRow(`SELECT notification_id FROM payment_receipts WHERE checkout_id = $1`, c.ID).Scan(&note); err != nil || note != "n-"+receipt.Reference(c.ID) {
			t.Errorf("payment_receipts: %q %v", note, err)
		}
	})
}

// TestCasePayments: a case's fees paid online are found by their
// case_payments ids, one entry per agency payment with the sum of the
// case's fees in it; an unpaid checkout's items are not.
func TestCasePayments(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		two := []payment.Item{
			{Kind: payment.ItemCasePayment, Source: "21", Agency: "dmv", Amount: 4500, Currency: "USD", Reference: "DMV-9", DescriptionEN: "Fee", DescriptionES: "Tarifa"},
			{Kind: payment.ItemCasePayment, Source: "22", Agency: "dmv", Amount: 500, Currency: "USD", Reference: "DMV-9", DescriptionEN: "Plate", DescriptionES: "Placa"},
		}
		c := f.pay(t, f.open(t, "acct-ana", two))
		f.open(t, "acct-ana", []payment.Item{{Kind: payment.ItemCasePayment, Source: "23", Agency: "dmv", Amount: 700, Currency: "USD", DescriptionEN: "x", DescriptionES: "x"}})
		got, err := f.receipts.CasePayments(ctx, []string{"21", "22", "23", "99"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Amount != 5000 || got[0].CheckoutID != c.ID || got[0].PaymentID != c.Payments[0] ||
			got[0].Account != "acct-ana" || got[0].LastDigits != "4242" || !got[0].PaidAt.Equal(paidAt) || got[0].Agency != "dmv" {
			t.Fatalf("CasePayments = %+v", got)
		}
		if got, err := f.receipts.CasePayments(ctx, nil); err != nil || got != nil {
			t.Errorf("no ids: %+v %v", got, err)
		}
	})
}

// TestBrand: card brands as providers report them (Stripe's and the
// sandbox's) are written as people write them; an unknown brand is "".
func TestBrand(t *testing.T) {
	for in, want := range map[string]string{
		"visa": "Visa", "VISA": "Visa", "mastercard": "Mastercard", "amex": "American Express", "american-express": "American Express",
		"discover": "Discover", "diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay", "eftpos_au": "eftpos Australia",
		"cartes_bancaires": "Cartes Bancaires", "card": "", "unknown": "", "": "", " visa ": "Visa", "new_network": "New Network",
		"some-brand": "Some Brand",
	} {
		if got := receipt.Brand(in); got != want {
			t.Errorf("Brand(%q) = %q, want %q", in, got, want)
		}
	}
}
