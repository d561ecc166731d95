package receipt

import (
	"bytes"
	"fmt"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// PDF writes d as a one-page (or longer) US Letter PDF (ADR 42). It uses
// the PDF core font Helvetica in Windows-1252, which has every letter of
// English and Spanish (á é í ó ú ü ñ ¿ ¡) and needs no embedded font; a
// character outside it prints as "?". created is the document's creation
// and modification date (the payment's time), so the same receipt always
// gives the same bytes.
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
	tr := f.UnicodeTranslatorFromDescriptor("") // Windows-1252
	const margin = 20.0
	f.SetMargins(margin, margin, margin)
	f.SetAutoPageBreak(true, margin)
	f.AddPage()
	pageW, _ := f.GetPageSize()
	w := pageW - 2*margin
	const labelW = 55.0

	f.SetTextColor(27, 27, 27)
	f.SetFont("Helvetica", "B", 20)
	f.MultiCell(w, 9, tr(d.Title), "", "L", false)
	if d.Lead != "" {
		f.Ln(2)
		f.SetFont("Helvetica", "", 12)
		f.MultiCell(w, 6, tr(d.Lead), "", "L", false)
	}
	facts := func(fs []Fact) {
		for _, x := range fs {
			f.SetFont("Helvetica", "B", 11)
			f.CellFormat(labelW, 6.5, tr(x.Label), "", 0, "L", false, 0, "")
			f.SetFont("Helvetica", "", 11)
			f.MultiCell(w-labelW, 6.5, tr(x.Value), "", "L", false)
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
		f.SetFont("Helvetica", "B", 14)
		f.MultiCell(w, 7.5, tr(s.Agency), "", "L", false)
		facts(s.Facts)
		for _, l := range s.Lines {
			f.SetFont("Helvetica", "", 11)
			f.CellFormat(w-35, 6.5, tr(l.Label), "", 0, "L", false, 0, "")
			f.CellFormat(35, 6.5, tr(l.Value), "", 1, "R", false, 0, "")
		}
	}
	if d.Total.Label != "" {
		rule()
		f.SetFont("Helvetica", "B", 14)
		f.CellFormat(w-50, 8, tr(d.Total.Label), "", 0, "L", false, 0, "")
		f.CellFormat(50, 8, tr(d.Total.Value), "", 1, "R", false, 0, "")
	}
	f.SetFont("Helvetica", "", 10)
	for _, n := range d.Notes {
		f.Ln(3)
		f.MultiCell(w, 5, tr(n), "", "L", false)
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
