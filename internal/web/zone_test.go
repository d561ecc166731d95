package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/web"
)

// TestPageDatesInJurisdictionZone: a page writes dates and times in the
// zone the server is given (the home jurisdiction's) and its language,
// never in UTC or ISO form; money by the language's CLDR rules.
func TestPageDatesInJurisdictionZone(t *testing.T) {
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{Zone: func(context.Context) *time.Location { return chicago }},
		slog.New(slog.NewTextHandler(io.Discard, nil)), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2027, 1, 1, 3, 30, 0, 0, time.UTC) // New Year's Eve in Chicago
	tests := []struct {
		lang                       string
		date, dateTime, iso, money string
	}{
		{"en", "December 31, 2026", "December 31, 2026, 9:30 PM", "2026-12-31T21:30:00-06:00", "$1,234.50"},
		{"es", "31 de diciembre de 2026", "31 de diciembre de 2026, 21:30", "2026-12-31T21:30:00-06:00", "$1,234.50"},
	}
	var p *web.Page
	s.HandleFunc("GET /zone", func(w http.ResponseWriter, r *http.Request) { p = s.Renderer().NewPage(r, nil) })
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/zone?lang="+tt.lang, nil))
			if p == nil {
				t.Fatal("handler did not run")
			}
			if got := p.Date(at); got != tt.date {
				t.Errorf("Date = %q; want %q", got, tt.date)
			}
			if got := p.DateTime(at); got != tt.dateTime {
				t.Errorf("DateTime = %q; want %q", got, tt.dateTime)
			}
			if got := p.ISO(at); got != tt.iso {
				t.Errorf("ISO = %q; want %q", got, tt.iso)
			}
			if got := p.Money(123450, "USD"); got != tt.money {
				t.Errorf("Money = %q; want %q", got, tt.money)
			}
		})
	}
}
