package app

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/i18n"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files (testdata)")

// TestCaseMailAsksAfterDecision: the message that tells a decision (an
// end point, ADR 56) carries the link to the satisfaction survey about
// the case's service, in English and Spanish; a message before the
// decision (a request for information) does not. Golden files hold the
// whole text as the person receives it.
func TestCaseMailAsksAfterDecision(t *testing.T) {
	for _, tt := range []struct {
		name    string
		lang    i18n.Lang
		decided bool
		body    string
	}{
		{"decided.en", i18n.English, true, "Your registration was renewed."},
		{"decided.es", i18n.Spanish, true, "Se renovó su registro."},
		{"open.en", i18n.English, false, "We need a photo of your insurance card."},
		{"open.es", i18n.Spanish, false, "Necesitamos una foto de su tarjeta de seguro."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := caseMailText(tt.lang, "https://portal.example.gov/", tt.body, casework.Mail{CaseID: "c-1", ServiceID: "vehicle-registration-renewal", Decided: tt.decided})
			survey := "https://portal.example.gov/satisfaction?after=decided&service=vehicle-registration-renewal"
			if strings.Contains(got, survey) != tt.decided {
				t.Errorf("survey link present = %v, want %v:\n%s", !tt.decided, tt.decided, got)
			}
			path := filepath.Join("testdata", "case_mail_"+tt.name+".txt")
			if *updateGolden {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(want) != got {
				t.Errorf("differs from %s:\n%s", path, got)
			}
		})
	}
}
