package receipt

import (
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/i18n"
)

// Fact is a labelled value of a receipt.
type Fact struct{ Label, Value string }

// Section is one agency's payment as the receipt writes it.
type Section struct {
	Agency string
	Facts  []Fact // its reference, payment id and amount
	Lines  []Fact // what was paid for, each with its amount
}

// Document is a receipt written out in one language and time zone: what
// the receipt page, the PDF and the email all say, from one place.
type Document struct {
	Lang     string
	Title    string
	Lead     string
	Facts    []Fact // receipt number, date paid, card, total
	Sections []Section
	Total    Fact
	Notes    []string // keep this receipt; a test payment took no money
}

// brands are card brands as printed. Providers report them in lower
// case: Stripe as "visa", "amex", "diners", "eftpos_au"…; the sandbox as
// "visa", "mastercard", "american-express".
var brands = map[string]string{
	"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "american-express": "American Express",
	"american_express": "American Express", "discover": "Discover", "diners": "Diners Club", "diners-club": "Diners Club",
	"diners_club": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay", "maestro": "Maestro", "eftpos_au": "eftpos Australia",
	"cartes_bancaires": "Cartes Bancaires", "interac": "Interac", "link": "Link",
	// A card of no known network is just "a card".
	"card": "", "unknown": "",
}

// Brand is a provider's card brand as people write it ("visa" →
// "Visa", "amex" → "American Express"); "" when the brand is unknown,
// for the caller to say "card". A brand not listed is written with its
// words capitalised ("new_network" → "New Network").
func Brand(b string) string {
	b = strings.TrimSpace(b)
	if s, ok := brands[strings.ToLower(b)]; ok {
		return s
	}
	words := strings.FieldsFunc(b, func(r rune) bool { return r == '_' || r == '-' || r == ' ' })
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// Layout writes r in lang with times in loc. Only a paid receipt has
// its facts; an unpaid one is a title and a note.
func Layout(r Receipt, lang string, loc *time.Location) Document {
	if lang != "es" {
		lang = "en"
	}
	m := i18n.Messages().For(i18n.Lang(lang), loc)
	d := Document{Lang: lang, Title: m.T("receipt.title")}
	if !r.Paid() {
		d.Title = m.T("receipt.unpaid.title")
		d.Notes = []string{m.T("receipt.unpaid.body")}
		return d
	}
	total := m.MoneyOf(r.Amount, r.Currency)
	d.Lead = m.T("receipt.lead", total, m.DateTime(r.PaidAt))
	d.Facts = []Fact{
		{m.T("receipt.number"), r.CheckoutID},
		{m.T("receipt.date"), m.DateTime(r.PaidAt)},
	}
	if r.LastDigits != "" {
		card := m.T("receipt.card.digits", r.LastDigits)
		if b := Brand(r.CardBrand); b != "" {
			card = m.T("receipt.card.brand", b, r.LastDigits)
		}
		d.Facts = append(d.Facts, Fact{m.T("receipt.card"), card})
	}
	d.Facts = append(d.Facts, Fact{m.T("receipt.total"), total})
	for _, p := range r.Parts {
		s := Section{Agency: p.AgencyName.In(lang), Facts: []Fact{
			{m.T("receipt.part.reference"), p.Reference},
			{m.T("receipt.part.payment"), p.PaymentID},
			{m.T("receipt.part.amount"), m.MoneyOf(p.Amount, r.Currency)},
		}}
		for _, l := range p.Lines {
			s.Lines = append(s.Lines, Fact{l.Description.In(lang), m.MoneyOf(l.Amount, r.Currency)})
		}
		d.Sections = append(d.Sections, s)
	}
	d.Total = Fact{m.T("receipt.total"), total}
	d.Notes = []string{m.T("receipt.keep")}
	if !r.Live {
		d.Notes = append(d.Notes, m.T("receipt.test"))
	}
	return d
}

// Text is the document as plain text, one fact a line: the email's body
// and what the PDF's text must read as.
func (d Document) Text() string {
	var b strings.Builder
	line := func(s string) { b.WriteString(s + "\n") }
	line(d.Title)
	if d.Lead != "" {
		line("")
		line(d.Lead)
	}
	if len(d.Facts) > 0 {
		line("")
	}
	for _, f := range d.Facts {
		line(f.Label + ": " + f.Value)
	}
	for _, s := range d.Sections {
		line("")
		line(s.Agency)
		for _, f := range s.Facts {
			line(f.Label + ": " + f.Value)
		}
		for _, l := range s.Lines {
			line("- " + l.Label + ": " + l.Value)
		}
	}
	if d.Total.Label != "" {
		line("")
		line(d.Total.Label + ": " + d.Total.Value)
	}
	for _, n := range d.Notes {
		line("")
		line(n)
	}
	return b.String()
}

// Email is the receipt message for r to a person (to), in their language
// with times in loc, linking to the receipt page (link).
func Email(r Receipt, to Contact, loc *time.Location, link string) Message {
	lang := to.Lang
	if lang != "es" {
		lang = "en"
	}
	m := i18n.Messages().For(i18n.Lang(lang), loc)
	d := Layout(r, lang, loc)
	var b strings.Builder
	b.WriteString(d.Text())
	b.WriteString("\n" + m.T("receipt.mail.link") + "\n" + link + "\n")
	return Message{AccountID: r.Account, Email: to.Email, Lang: lang, Reference: Reference(r.CheckoutID),
		Subject: m.T("receipt.mail.subject", m.MoneyOf(r.Amount, r.Currency), m.Date(r.PaidAt)), Text: b.String()}
}
