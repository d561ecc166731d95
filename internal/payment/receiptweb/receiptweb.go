// Package receiptweb is the HTTP side of the payment block's receipts:
//
//	GET /pay/receipts/{id}       the receipt page of a checkout (its payer only)
//	GET /pay/receipts/{id}.pdf   the same receipt as a PDF to keep
//
// The receipt block decides who may see a receipt and audits every read
// (receipt.Service.View); anyone but the person who paid gets the site's
// 404 page, whether the checkout exists or not. A checkout that did not
// succeed has no receipt: its page says it is not paid, and its PDF is 404.
package receiptweb

import (
	"bytes"
	"context"
	"embed"
	"net/http"
	"strings"

	"github.com/portico-gov/portico/internal/payment/receipt"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Auth is what the pages need of the identity block's web side
// (*identityweb.Handlers): the one "signed in" rule.
type Auth interface {
	RequireSignedIn(fn http.HandlerFunc) http.Handler
}

// Receipts is what the pages need of the receipt block.
type Receipts interface {
	View(ctx context.Context, actor platform.Actor, id string) (receipt.Receipt, error)
}

type pages struct {
	web      *web.Server
	receipts Receipts
}

// Register adds the receipt routes to s. Go's patterns take a wildcard
// only as a whole segment, so one route serves both the page and
// ID.pdf.
func Register(s *web.Server, receipts Receipts, auth Auth) error {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	p := &pages{web: s, receipts: receipts}
	s.Handle("GET /pay/receipts/{file}", auth.RequireSignedIn(p.receipt))
	return nil
}

type view struct {
	Doc  receipt.Document
	Paid bool
	PDF  string // the PDF's address
}

func (p *pages) receipt(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, asPDF := strings.CutSuffix(r.PathValue("file"), ".pdf")
	rc, err := p.receipts.View(ctx, platform.ActorFrom(ctx), id)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		p.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	page := p.web.Renderer().NewPage(r, nil)
	f := page.Format()
	doc := receipt.Layout(rc, string(f.Lang()), f.Location())
	// A receipt is the person's own record: no shared cache keeps it.
	w.Header().Set("Cache-Control", "private, no-store")
	if asPDF {
		if !rc.Paid() {
			p.web.ErrorPage(w, r, http.StatusNotFound)
			return
		}
		body, err := receipt.PDF(doc, rc.PaidAt)
		if err != nil {
			p.web.Error(w, r, err)
			return
		}
		web.Download(w, r, p.web.Logger(), receipt.FileName(doc, rc.CheckoutID), "application/pdf", int64(len(body)), bytes.NewReader(body))
		return
	}
	page.Data = view{Doc: doc, Paid: rc.Paid(), PDF: "/pay/receipts/" + rc.CheckoutID + ".pdf"}
	p.web.Page(w, r, http.StatusOK, "receipt", page)
}
