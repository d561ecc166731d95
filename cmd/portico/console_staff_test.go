package main

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

var fieldError = regexp.MustCompile(`class="usa-error-message"[^>]*>([^<]*)<`)

// TestAddStaffDoesNotRevealCitizenAccounts: an agency administrator adding
// staff gets the same answer for a new address, a staff member's address
// and a citizen's address, and the same error for the same mistake, so the
// page cannot be used to learn who has a citizen account (issue 9, defect
// 6). Before, a citizen's address answered "belongs to a citizen account".
func TestAddStaffDoesNotRevealCitizenAccounts(t *testing.T) {
	base, _ := startDemoApp(t, t.TempDir())
	dana := signInClient(t, base, "dana.dmv-admin@example.gov", true)
	addresses := []struct{ name, email string }{
		{"new address", "new.person@dmv.example.gov"},
		{"staff of another agency", "eli.clerk@example.gov"},
		{"citizen", "ana.citizen@example.com"},
		{"citizen, other case", "Beto.Ciudadano@example.com"},
	}
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
	}{
		{"accepted", url.Values{"legal_name": {"Someone New"}, "role": {"caseworker"}}, http.StatusSeeOther},
		{"no name", url.Values{"legal_name": {""}, "role": {"caseworker"}}, http.StatusBadRequest},
		{"bad role", url.Values{"legal_name": {"Someone New"}, "role": {"king"}}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first string
			for i, a := range addresses {
				form := url.Values{"email": {a.email}}
				for k, v := range tt.form {
					form[k] = v
				}
				status, loc, body := postPage(t, dana, base+"/console/agencies/dmv/staff?lang=en", form)
				if status != tt.wantStatus {
					t.Fatalf("%s: status %d, want %d\n%s", a.name, status, tt.wantStatus, body)
				}
				answer := loc
				if status != http.StatusSeeOther {
					m := fieldError.FindAllStringSubmatch(body, -1)
					if len(m) == 0 {
						t.Fatalf("%s: no field error in\n%s", a.name, body)
					}
					answer = m[0][1]
				}
				if i == 0 {
					first = answer
				} else if answer != first {
					t.Fatalf("%s answered %q, %s answered %q", addresses[0].name, first, a.name, answer)
				}
			}
		})
	}
}
