package applyweb_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestApplyFlow: signing in from "Start now" lands on the form (or the
// draft); someone who may not use a service is told why and pointed at
// the service that does apply to them; a report reads as a report, with
// no declaration. On SQLite and, when configured, PostgreSQL.
func TestApplyFlow(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			_, base := startAppOn(t, d)
			dog := "/services/adams-dog-licence/apply"

			// Start now, not signed in: sign in, and come back into the form.
			ana := newBrowser(t, base)
			expect(t, "anonymous start", ana.post(dog, nil), http.StatusSeeOther, "/sign-in?next=%2Fservices%2Fadams-dog-licence%2Fapply")
			p := ana.post("/sign-in", url.Values{"email": {"ana.citizen@example.com"}, "password": {demo.CitizenPassword}, "next": {dog}})
			expect(t, "sign in", p, http.StatusSeeOther, dog)
			p = ana.get(dog)
			expect(t, "back from sign-in", p, http.StatusSeeOther, "")
			first := regexp.MustCompile(`^/apply/[0-9a-f-]{36}/pages/dog$`)
			if !first.MatchString(p.location) {
				t.Fatalf("after signing in: %q, want the form's first page", p.location)
			}
			draft := strings.TrimSuffix(p.location, "/pages/dog")
			page := ana.get(p.location)
			expect(t, "first page", page, http.StatusOK, "")
			contains(t, "first page", page, "About your dog", `id="f-name-label" for="f-name">Dog&#39;s name</label>`, "Date of birth (optional)")
			// Again (another tab, a bookmark): the same draft, where it was left.
			expect(t, "start again", ana.get(dog), http.StatusSeeOther, draft)
			// A link from another site starts nothing: it shows the button.
			req, _ := http.NewRequest("GET", base+"/services/adams-marriage-licence/apply", nil)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			resp, err := ana.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("cross-site start: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
			contains(t, "dashboard", ana.get("/dashboard"), "Get a dog license")
			if strings.Contains(ana.get("/dashboard").body, "marriage") {
				t.Fatal("a cross-site link started a draft")
			}

			// Beto lives in Baker County: Adams County's dog license is not
			// for him, and the page says why and where to go.
			beto := newBrowser(t, base)
			beto.lang = "es"
			beto.signIn("beto.ciudadano@example.com")
			expect(t, "ineligible start", beto.get(dog), http.StatusSeeOther, "/services/adams-dog-licence#not-eligible")
			expect(t, "ineligible post", beto.post(dog, nil), http.StatusSeeOther, "/services/adams-dog-licence#not-eligible")
			p = beto.get("/services/adams-dog-licence")
			expect(t, "start page", p, http.StatusOK, "")
			contains(t, "why not", p, "No puede usar este servicio", "Esta licencia es para personas que viven en el Condado de Adams.",
				`href="/services/baker-dog-licence"`, "Servicios que sí puede usar")
			if strings.Contains(p.body, `action="/services/adams-dog-licence/apply"`) {
				t.Error("the start page offers to start a service the person cannot use")
			}
			if strings.Contains(section(p.body, `id="not-eligible"`, "</div>\n    </div>"), "Debe tener 18 años") {
				t.Error("a rule Beto meets is given as a reason")
			}
			// Ana, the other way round, in English.
			p = ana.get("/services/baker-dog-licence")
			contains(t, "why not (en)", p, "You cannot use this service", "This license is for people who live in Baker County.", `href="/services/adams-dog-licence"`)
			// Someone who may use it sees no such box.
			if p := beto.get("/services/baker-dog-licence"); strings.Contains(p.body, "not-eligible") || !strings.Contains(p.body, `action="/services/baker-dog-licence/apply"`) {
				t.Error("Baker's start page refuses Beto")
			}

			// A pothole report reads as a report, with no declaration.
			p = ana.get("/services/springfield-pothole")
			contains(t, "report start page", p, ">Report a problem</button>", "<li>Photo (optional)</li>")
			p = ana.post("/services/springfield-pothole/apply", nil)
			where := p.location
			if !strings.HasSuffix(where, "/pages/where") {
				t.Fatalf("report start: %q", where)
			}
			report := strings.TrimSuffix(where, "/pages/where")
			id := strings.TrimPrefix(report, "/apply/")
			page = ana.get(where)
			contains(t, "report page", page, "Photo (optional)</label>", `aria-labelledby="f-photo-label"`, `aria-describedby="f-photo-hint"`)
			if strings.Contains(page.body, "(optional) (optional)") {
				t.Error("optional said twice")
			}
			expect(t, "answer", ana.post(where, url.Values{"location": {"Elm Street and 3rd Avenue"}, "size": {"large"}}), http.StatusSeeOther, report+"/check")
			p = ana.get(report + "/check")
			contains(t, "report check", p, "Check your report before sending it", "Now send your report", ">Send report</button>",
				`class="usa-link portico-change-link"`, `Change<span class="usa-sr-only"> Street and nearest house number or crossing</span>`)
			if m := mainText(p.body); strings.Contains(m, "confirm") || strings.Contains(m, "Accept and send") || strings.Contains(m, "application") {
				t.Error("a report asks for a declaration or speaks of an application")
			}
			golden(t, "check-report.en", p.body, id)
			ana.lang = "es"
			p = ana.get(report + "/check")
			contains(t, "report check (es)", p, "Revise su reporte antes de enviarlo", ">Enviar reporte</button>")
			golden(t, "check-report.es", p.body, id)
			ana.lang = "en"
			rev := regexp.MustCompile(`name="revision" value="(\d+)"`).FindStringSubmatch(p.body)
			expect(t, "send report", ana.post(report+"/submit", url.Values{"revision": {rev[1]}}), http.StatusSeeOther, report+"/done")
			p = ana.get(report + "/done")
			contains(t, "report done", p, "Report sent", "We have your report: Report a pothole.", "Follow this report")
			if strings.Contains(mainText(p.body), "application") {
				t.Error("the report's confirmation speaks of an application")
			}
			golden(t, "done-report.en", p.body, id)
			ana.lang = "es"
			p = ana.get(report + "/done")
			contains(t, "report done (es)", p, "Reporte enviado", "Seguir este reporte")
			golden(t, "done-report.es", p.body, id)
			ana.lang = "en"
			contains(t, "dashboard", ana.get("/dashboard"), `<h2 id="sent-report">Reports you sent</h2>`, "Report a pothole")
		})
	}
}

// section is body from the first from to the next to after it.
func section(body, from, to string) string {
	i := strings.Index(body, from)
	if i < 0 {
		return ""
	}
	body = body[i:]
	if j := strings.Index(body, to); j >= 0 {
		return body[:j]
	}
	return body
}

var tag = regexp.MustCompile(`<[^>]*>`)

// mainText is the text a person reads in the page's main content (tags,
// and so link addresses, left out).
func mainText(body string) string {
	return tag.ReplaceAllString(section(body, "<main", "</main>"), " ")
}
