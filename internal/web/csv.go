package web

import (
	"bytes"
	"encoding/csv"
	"log/slog"
	"net/http"
	"regexp"
)

// plainNumber is a cell a spreadsheet reads as a number and never as a
// formula: an optional minus sign, digits, an optional decimal part.
var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// CSVCell makes s safe to open in a spreadsheet: a cell that starts with
// =, +, -, @, a tab or a carriage return would be read as a formula
// (CSV injection, OWASP), so it is prefixed with an apostrophe, which
// spreadsheets show as text. Plain numbers ("-12.50") are left alone.
func CSVCell(s string) string {
	if s == "" || plainNumber.MatchString(s) {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// WriteCSV serves header and rows as a CSV file named name to save (not
// to render), every cell made safe by CSVCell, with CRLF line ends as RFC
// 4180 asks. It builds the file whole first, so a failure is an error
// page rather than half a file.
func WriteCSV(w http.ResponseWriter, r *http.Request, logger *slog.Logger, name string, header []string, rows [][]string) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.UseCRLF = true
	safe := func(row []string) []string {
		out := make([]string, len(row))
		for i, c := range row {
			out[i] = CSVCell(c)
		}
		return out
	}
	_ = cw.Write(safe(header)) // writes to a bytes.Buffer cannot fail
	for _, row := range rows {
		_ = cw.Write(safe(row))
	}
	cw.Flush()
	Download(w, r, logger, name, "text/csv; charset=utf-8", int64(buf.Len()), &buf)
}
