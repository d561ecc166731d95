package application_test

import (
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/i18n"
)

// TestSummarize: one summary of answers for check your answers and both
// case pages: pages and questions in the order the form asks them (not
// alphabetical), dates and yes/no written for the reader, unanswered
// questions said so, answers the form no longer asks last, by name.
func TestSummarize(t *testing.T) {
	f := exampleForm(t, "marriage-licence.yaml")
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]map[string]any{
		"previous": {"married_before": "yes"},
		"you": {"phone": nil, "name": "Ana Citizen", "born": "1988-04-12", "zz_removed": "kept", "aa_removed": true,
			"address": map[string]any{"zip": "70101", "city": "Springfield", "line1": "12 Elm Street", "unit": "B"}},
		"partner": {"email": "bo@example.com", "born": "1990-02-01", "name": "Bo Partner"},
	}
	tests := []struct {
		lang i18n.Lang
		want string
	}{
		{i18n.English, `About you: Your full name=Ana Citizen | Your date of birth=April 12, 1988 | Your home address=12 Elm Street/Springfield/70101/B | Phone number=Not answered | aa_removed=Yes | zz_removed=kept
Your partner: Full name=Bo Partner | Date of birth=February 1, 1990 | Email address=bo@example.com
Previous marriages: Has either of you been married before?=Yes`},
		{i18n.Spanish, `Sobre usted: Su nombre completo=Ana Citizen | Su fecha de nacimiento=12 de abril de 1988 | Su domicilio=12 Elm Street/Springfield/70101/B | Teléfono=Sin respuesta | aa_removed=Sí | zz_removed=kept
Su pareja: Nombre completo=Bo Partner | Fecha de nacimiento=1 de febrero de 1990 | Correo electrónico=bo@example.com
Matrimonios anteriores: ¿Alguno de ustedes estuvo casado antes?=Sí`},
	}
	for _, tt := range tests {
		t.Run(string(tt.lang), func(t *testing.T) {
			secs := application.Summarize(f.Runtime(), answers, c.For(tt.lang, nil), application.SummaryOptions{
				ChangeURL: func(page string, r application.AnswerRow) string { return page + "#" + r.Name },
			})
			var lines []string
			for _, s := range secs {
				var rows []string
				for _, r := range s.Rows {
					rows = append(rows, r.Label+"="+strings.Join(r.Lines, "/"))
					if r.ChangeURL != s.PageID+"#"+r.Name {
						t.Errorf("change link %q", r.ChangeURL)
					}
				}
				lines = append(lines, s.Title+": "+strings.Join(rows, " | "))
			}
			if got := strings.Join(lines, "\n"); got != tt.want {
				t.Errorf("summary:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
	// Only the pages asked for, in the order asked.
	secs := application.Summarize(f.Runtime(), answers, c.For(i18n.English, nil), application.SummaryOptions{Pages: []string{"previous", "you"}})
	if len(secs) != 2 || secs[0].PageID != "previous" || secs[1].PageID != "you" || secs[0].Rows[0].ChangeURL != "" {
		t.Errorf("pages = %+v", secs)
	}
}
