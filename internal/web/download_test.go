package web_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/web"
)

func TestDownload(t *testing.T) {
	for _, c := range []struct {
		name, wantDisp string
	}{
		{"decree.pdf", `attachment; filename=decree.pdf`},
		{`my "scan".pdf`, `attachment; filename="my \"scan\".pdf"`},
		{"sentencia-niño.pdf", `attachment; filename*=utf-8''sentencia-ni%C3%B1o.pdf`},
	} {
		w := httptest.NewRecorder()
		web.Download(w, httptest.NewRequest("GET", "/x", nil), nil, c.name, "application/pdf", 9, strings.NewReader("%PDF-1.7\n"))
		h := w.Result().Header
		if h.Get("Content-Disposition") != c.wantDisp || h.Get("Content-Type") != "application/pdf" || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Content-Security-Policy") != "sandbox" || h.Get("Content-Length") != "9" || w.Body.String() != "%PDF-1.7\n" {
			t.Errorf("%q: %v %q", c.name, h, w.Body.String())
		}
	}
}
