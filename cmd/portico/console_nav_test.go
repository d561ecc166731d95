package main

import (
	"net/http"
	"regexp"
	"testing"
)

// TestConsoleNavShowsWhatTheRoleMayOpen: the header of each demo staff
// member links the console's reports and outcomes exactly when the role
// may open them, and every link shown opens (every link hidden is
// refused), so the navigation never offers a page that answers "not
// found".
func TestConsoleNavShowsWhatTheRoleMayOpen(t *testing.T) {
	base, _ := startDemoApp(t, t.TempDir())
	links := map[string]*regexp.Regexp{
		"/console/reports":  regexp.MustCompile(`<nav[^>]*class="usa-nav"[\s\S]*href="/console/reports" id="nav-reports"[\s\S]*</nav>`),
		"/console/outcomes": regexp.MustCompile(`<nav[^>]*class="usa-nav"[\s\S]*href="/console/outcomes" id="nav-outcomes"[\s\S]*</nav>`),
	}
	for _, c := range []struct {
		who           string
		staff         bool
		reports, kpis bool
	}{
		{"rosa.publicworks@example.gov", true, true, true},   // caseworker of the agency that takes reports
		{"casey.dmv@example.gov", true, true, true},          // caseworker: may work reports of the DMV (none)
		{"dana.dmv-admin@example.gov", true, true, true},     // agency administrator
		{"fay.clerk-finance@example.gov", true, false, true}, // finance staff do not work reports
		{"pat.admin@example.gov", true, true, true},          // platform administrator
		{"ana.citizen@example.com", false, false, false},     // a citizen sees neither
	} {
		t.Run(c.who, func(t *testing.T) {
			cl := signInClient(t, base, c.who, c.staff)
			status, body := page(t, cl, base+"/account")
			if status != http.StatusOK {
				t.Fatalf("/account: %d", status)
			}
			for path, want := range map[string]bool{"/console/reports": c.reports, "/console/outcomes": c.kpis} {
				if got := links[path].MatchString(body); got != want {
					t.Errorf("nav links %s: %v, want %v", path, got, want)
				}
				st, _ := page(t, cl, base+path)
				if opens := st == http.StatusOK; opens != want {
					t.Errorf("%s answers %d; the nav shows it: %v", path, st, want)
				}
			}
		})
	}
}
