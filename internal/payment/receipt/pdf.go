package receipt

import (
	"bytes"
	_ "embed"
	"fmt"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// The receipt's typeface, DejaVu Sans (ADR 52): names are printed as
// people write them ("Nguyễn", "Łódź", "O’Brien"), which the PDF core
// fonts' Windows-1252 cannot. fpdf embeds only the glyphs a receipt
// uses, so a receipt stays small (about 40 KB).
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
)

// family is the font family name the PDF is written in.
const family = "DejaVuSans"

// PDF writes d as a one-page (or longer) US Letter PDF (ADR 42) in
// DejaVu Sans (ADR 52), whose text is Unicode: every character a name or
// an address may have prints as itself. created is the document's
// creation and modification date (the payment's time), so the same
// receipt always gives the same bytes.
func PDF(d Document, created time.Time) ([]byte, error) {
	if created.IsZero() {
		return nil, fmt.Errorf("receipt: pdf: a receipt needs the time it was paid")
	}
	f := fpdf.New("P", "mm", "Letter", "")
	f.SetCreationDate(created.UTC())
	f.SetModificationDate(created.UTC())
	f.SetCatalogSort(true)
	f.SetCreator("Portico", false)
	f.SetTitle(d.Title, true)
	f.SetLang(d.Lang)
	f.AddUTF8FontFromBytes(family, "", fontRegular)
	f.AddUTF8FontFromBytes(family, "B", fontBold)
	const margin = 20.0
	f.SetMargins(margin, margin, margin)
	f.SetAutoPageBreak(true, margin)
	f.AddPage()
	pageW, _ := f.GetPageSize()
	w := pageW - 2*margin
	const labelW = 55.0

	f.SetTextColor(27, 27, 27)
	f.SetFont(family, "B", 20)
	f.MultiCell(w, 9, d.Title, "", "L", false)
	if d.Lead != "" {
		f.Ln(2)
		f.SetFont(family, "", 12)
		f.MultiCell(w, 6, d.Lead, "", "L", false)
	}
	facts := func(fs []Fact) {
		for _, x := range fs {
			f.SetFont(family, "B", 11)
			f.CellFormat(labelW, 6.5, x.Label, "", 0, "L", false, 0, "")
			f.SetFont(family, "", 11)
			f.MultiCell(w-labelW, 6.5, x.Value, "", "L", false)
		}
	}
	rule := func() {
		y := f.GetY() + 2
		f.SetDrawColor(169, 174, 177)
		f.Line(margin, y, pageW-margin, y)
		f.SetY(y + 3)
	}
	if len(d.Facts) > 0 {
		f.Ln(4)
		facts(d.Facts)
	}
	for _, s := range d.Sections {
		rule()
		f.SetFont(family, "B", 14)
		f.MultiCell(w, 7.5, s.Agency, "", "L", false)
		facts(s.Facts)
		for _, l := range s.Lines {
			f.SetFont(family, "", 11)
			f.CellFormat(w-35, 6.5, l.Label, "", 0, "L", false, 0, "")
			f.CellFormat(35, 6.5, l.Value, "", 1, "R", false, 0, "")
		}
	}
	if d.Total.Label != "" {
		rule()
		f.SetFont(family, "B", 14)
		f.CellFormat(w-50, 8, d.Total.Label, "", 0, "L", false, 0, "")
		f.CellFormat(50, 8, d.Total.Value, "", 1, "R", false, 0, "")
	}
	f.SetFont(family, "", 10)
	for _, n := range d.Notes {
		f.Ln(3)
		f.MultiCell(w, 5, n, "", "L", false)
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		return nil, fmt.Errorf("receipt: pdf: %w", err)
	}
	return b.Bytes(), nil
}

// FileName is the name a receipt's PDF is saved as.
func FileName(d Document, checkoutID string) string {
	if d.Lang == "es" {
		return "recibo-" + checkoutID + ".pdf"
	}
	return "receipt-" + checkoutID + ".pdf"
}
