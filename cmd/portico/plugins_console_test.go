package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
)

// TestPluginConsoleForms posts the console's plug-in forms through the
// real server as the DMV's administrator and the platform administrator:
// bad input is answered with the page, its error summary naming the
// field and keeping what was chosen, and changes nothing; good input is
// saved by the registry; the platform administrator's agency chooser
// leads to the agency's page, or to not found.
func TestPluginConsoleForms(t *testing.T) {
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	op := platform.Actor{Kind: platform.ActorOperator, ID: "test"}
	dana := signInAt(t, base, "dana.dmv-admin@example.gov", true, a.Clock.Now())
	pat := signInAt(t, base, "pat.admin@example.gov", true, a.Clock.Now())
	const use = "/console/plugins/counter-booking/agencies/dmv"
	before, err := a.Plugins.Get(ctx, op, "counter-booking")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		form    url.Values
		summary string   // in the error summary
		kept    []string // still checked or selected
	}{
		{"data it does not ask for", url.Values{"data": {"name", "date_of_birth"}, "operation": {"list-slots"}},
			`href="#data">Choose only data the plug-in asks for`, []string{`value="name" checked`, `value="list-slots" checked`}},
		{"an operation it does not offer", url.Values{"data": {"email"}, "operation": {"teleport"}},
			`href="#operations">Choose only operations the plug-in offers`, []string{`value="email" checked`}},
		{"a service of another agency", url.Values{"data": {"name"}, "service": {"adams-dog-licence"}, "operation": {"book-slot"}},
			`href="#service">Choose one of the agency&#39;s services, or every service`, []string{`value="name" checked`, `value="book-slot" checked`}},
		{"a service that is no service", url.Values{"service": {"Not A Service!"}},
			`href="#service">Choose one of the agency&#39;s services, or every service`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := postForm(t, dana, base+use+"/enable", tc.form)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", resp.StatusCode)
			}
			page := string(body)
			if !strings.Contains(page, `id="error-summary"`) || !strings.Contains(page, tc.summary) {
				t.Errorf("the page has no error summary with %q", tc.summary)
			}
			for _, k := range tc.kept {
				if !strings.Contains(page, k) {
					t.Errorf("the page lost the choice %q", k)
				}
			}
		})
	}
	after, err := a.Plugins.Get(ctx, op, "counter-booking")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(before.Enablements, after.Enablements, func(x, y plugin.Enablement) bool { return slices.Equal(x.Data, y.Data) && x.Status == y.Status }) ||
		len(before.Access) != len(after.Access) {
		t.Fatalf("refused forms changed the enablement: %+v → %+v", before.Enablements, after.Enablements)
	}

	// Good input: the name only, one of the DMV's services, one operation.
	resp := postForm(t, dana, base+use+"/enable", url.Values{"data": {"name"}, "service": {"vehicle-registration-renewal"}, "operation": {"list-slots"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/plugins/counter-booking?agency=dmv&done=enabled" {
		t.Fatalf("enable: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	p, err := a.Plugins.Get(ctx, op, "counter-booking")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(p.Enablements, func(e plugin.Enablement) bool { return e.Agency == "dmv" })
	if i < 0 || !slices.Equal(p.Enablements[i].Data, []string{"name"}) ||
		!slices.ContainsFunc(p.Access, func(r plugin.AccessRight) bool {
			return r.Agency == "dmv" && r.Service == "vehicle-registration-renewal" && r.Operation == "list-slots"
		}) {
		t.Errorf("after enabling: %+v %+v", p.Enablements, p.Access)
	}

	for _, tc := range []struct {
		query    string
		status   int
		location string
	}{
		{"agency=adams-clerk", http.StatusSeeOther, "/console/plugins/counter-booking/agencies/adams-clerk"},
		{"agency=atlantis", http.StatusNotFound, ""},
		{"", http.StatusNotFound, ""},
	} {
		req, _ := http.NewRequest("GET", base+"/console/plugins/counter-booking/agency?"+tc.query, nil)
		resp, err := pat.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
			t.Errorf("chooser %q: %d %q, want %d %q", tc.query, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
		}
	}
	// A plug-in that is not there is not found, on every page.
	for _, path := range []string{"/console/plugins/no-such-plugin", "/console/plugins/no-such-plugin/agencies/dmv"} {
		if st, _ := page(t, pat, base+path); st != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, st)
		}
	}
}
