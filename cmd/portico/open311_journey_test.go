package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestReportJourney: a person reports a pothole without an account (a
// photo, an address, an answer), gets the confirmation with the survey
// link and a private follow link by email; the report is in Open311
// without their email; a platform administrator closes it as not fixed
// with a note; the reporter sees the note and reopens it; reports nearby
// list it without personal data. On both engines, through the real server.
func TestReportJourney(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
			cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DB: storagetest.NewURL(t, d), LogFormat: "text", LogLevel: 8, DevMailbox: true}
			if err := cfg.Finish(); err != nil {
				t.Fatal(err)
			}
			a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Stop(context.Background()) })
			if err := seedDemo(ctx, a); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a.Web)
			t.Cleanup(srv.Close)
			noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			jar, _ := cookiejar.New(nil)
			anon := &http.Client{Jar: jar, CheckRedirect: noRedirect}
			send := func(c *http.Client, method, path, ctype string, body io.Reader) (*http.Response, string) {
				t.Helper()
				req, _ := http.NewRequest(method, srv.URL+path, body)
				if ctype != "" {
					req.Header.Set("Content-Type", ctype)
				}
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				res, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res, string(b)
			}
			form := func(fields map[string]string, photo []byte) (string, *bytes.Buffer) {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				for k, v := range fields {
					mw.WriteField(k, v)
				}
				if photo != nil {
					fw, _ := mw.CreateFormFile("photos", "hole.png")
					fw.Write(photo)
				}
				mw.Close()
				return mw.FormDataContentType(), &buf
			}
			png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")

			// The front door finds the form: searching "pothole" (or
			// "bache" in Spanish) lists the report service beside the
			// catalog's services, and a search for something else does not.
			for _, c := range []struct{ q, lang, want string }{
				{"pothole", "en", `href="/report/pothole"`},
				{"potholes on my street", "en", `href="/report/pothole"`},
				{"bache", "es", `href="/report/pothole"`},
			} {
				req, _ := http.NewRequest("GET", srv.URL+"/services?q="+url.QueryEscape(c.q), nil)
				req.Header.Set("Accept-Language", c.lang)
				res, err := anon.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || !strings.Contains(string(b), c.want) || !strings.Contains(string(b), `id="reports-heading"`) {
					t.Errorf("search %q (%s): %d, lacks %s", c.q, c.lang, res.StatusCode, c.want)
				}
				// The report form is a result: the heading does not say
				// nothing was found right above it.
				if strings.Contains(string(b), "found: 0,") || strings.Contains(string(b), "encontrados: 0,") {
					t.Errorf("search %q (%s): the heading says no results above the report form", c.q, c.lang)
				}
			}
			if _, page := send(anon, "GET", "/services?q=passport", "", nil); strings.Contains(page, `id="reports-heading"`) {
				t.Error("a search for a passport lists report forms")
			}

			// Mistakes keep what was typed and say what is wrong.
			ct, body := form(map[string]string{"description": "Deep hole", "email": "rosa@example.com"}, nil)
			res, page := send(anon, "POST", "/report/pothole", ct, body)
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `href="#address"`) || !strings.Contains(page, `href="#attr-SIZE"`) ||
				!strings.Contains(page, "rosa@example.com") || !strings.Contains(page, "Deep hole") {
				t.Fatalf("mistakes: %d\n%s", res.StatusCode, page)
			}
			ct, body = form(map[string]string{"address": "100 Main St", "zipcode": "70102", "attribute[SIZE]": "large"}, []byte("not an image at all"))
			if res, page = send(anon, "POST", "/report/pothole", ct, body); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "JPEG, PNG, WebP or GIF") {
				t.Fatalf("a file that is not a photo: %d\n%s", res.StatusCode, page)
			}

			ct, body = form(map[string]string{"address": "100 Main St", "zipcode": "70102", "lat": "39.7817", "long": "-89.6501", "attribute[SIZE]": "large",
				"attribute[WHERE]": "bike", "description": "Deep hole in the bike lane", "email": "rosa@example.com"}, png)
			res, _ = send(anon, "POST", "/report/pothole", ct, body)
			follow := res.Header.Get("Location")
			if res.StatusCode != http.StatusSeeOther || !regexp.MustCompile(`^/report/follow/[A-Za-z0-9_-]{43}\?sent=1&emailed=1$`).MatchString(follow) {
				t.Fatalf("report: %d %q", res.StatusCode, follow)
			}
			res, page = send(anon, "GET", follow, "", nil)
			if res.StatusCode != 200 || !strings.Contains(page, "Report sent") || !strings.Contains(page, `/satisfaction?after=reported&amp;service=pothole`) ||
				!strings.Contains(page, "Deep hole in the bike lane") || res.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("confirmation: %d\n%s", res.StatusCode, page)
			}
			number := regexp.MustCompile(`Report (\d+)`).FindStringSubmatch(page)
			if number == nil {
				t.Fatalf("no report number:\n%s", page)
			}
			photo := regexp.MustCompile(`/report/follow/[^/"]+/photos/[0-9a-f-]{36}`).FindString(page)
			if res, _ = send(anon, "GET", photo, "", nil); photo == "" || res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" ||
				!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("photo %q: %d %v", photo, res.StatusCode, res.Header)
			}
			// The confirmation email carries the private link.
			token := strings.TrimSuffix(strings.TrimPrefix(follow, "/report/follow/"), "?sent=1&emailed=1")
			var mails int
			if err := a.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE reference = $1 AND recipient = 'rosa@example.com'`, "report:"+number[1]).Scan(&mails); err != nil || mails != 1 {
				t.Fatalf("confirmation emails: %d %v", mails, err)
			}
			// Open311 shows it without personal data.
			res, page = send(anon, "GET", "/open311/v2/requests/"+number[1]+".json", "", nil)
			if res.StatusCode != 200 || !strings.Contains(page, `"status":"open"`) || strings.Contains(page, "rosa") {
				t.Fatalf("open311: %d\n%s", res.StatusCode, page)
			}

			// A platform administrator closes it without fixing it.
			sjar, _ := cookiejar.New(nil)
			staff := &http.Client{Jar: sjar, CheckRedirect: noRedirect}
			send(staff, "POST", "/sign-in", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"email": {"pat.admin@example.gov"}, "password": {demo.StaffPassword}}.Encode()))
			code, _ := totp.GenerateCode(demo.StaffTOTPSecret, time.Now())
			send(staff, "POST", "/sign-in/verify", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"code": {code}}.Encode()))
			res, page = send(staff, "GET", "/console/reports?agency=springfield-public-works", "", nil)
			if res.StatusCode != 200 || !strings.Contains(page, "/console/reports/"+number[1]) {
				t.Fatalf("console list: %d\n%s", res.StatusCode, page)
			}
			res, page = send(staff, "GET", "/console/reports/"+number[1], "", nil)
			if res.StatusCode != 200 || !strings.Contains(page, "rosa@example.com") || !strings.Contains(page, "Larger than a car tire") {
				t.Fatalf("console report: %d\n%s", res.StatusCode, page)
			}
			closeForm := url.Values{"state": {"not_fixed"}, "note": {""}}
			if res, page = send(staff, "POST", "/console/reports/"+number[1]+"/status", "application/x-www-form-urlencoded", strings.NewReader(closeForm.Encode())); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `href="#note"`) {
				t.Fatalf("closing without a note: %d\n%s", res.StatusCode, page)
			}
			closeForm.Set("note", "We could not find it at this address.")
			if res, _ = send(staff, "POST", "/console/reports/"+number[1]+"/status", "application/x-www-form-urlencoded", strings.NewReader(closeForm.Encode())); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("closing: %d", res.StatusCode)
			}
			_, page = send(anon, "GET", "/open311/v2/requests/"+number[1]+".xml", "", nil)
			if !strings.Contains(page, "<status>closed</status>") || !strings.Contains(page, "<status_notes>We could not find it at this address.</status_notes>") {
				t.Fatalf("closed in open311:\n%s", page)
			}

			// The reporter sees it and reopens it.
			_, page = send(anon, "GET", "/report/follow/"+token, "", nil)
			if !strings.Contains(page, "Closed without being fixed") || !strings.Contains(page, "We could not find it at this address.") || !strings.Contains(page, "Reopen report") {
				t.Fatalf("follow after closing:\n%s", page)
			}
			if res, page = send(anon, "POST", "/report/follow/"+token+"/reopen", "application/x-www-form-urlencoded", strings.NewReader("reason=")); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `href="#reason"`) {
				t.Fatalf("reopen without a reason: %d\n%s", res.StatusCode, page)
			}
			if res, _ = send(anon, "POST", "/report/follow/"+token+"/reopen", "application/x-www-form-urlencoded", strings.NewReader("reason=It+is+in+front+of+number+100.")); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("reopen: %d", res.StatusCode)
			}
			_, page = send(anon, "GET", "/report/follow/"+token, "", nil)
			if strings.Contains(page, "Reopen report") || !strings.Contains(page, "It is in front of number 100.") {
				t.Fatalf("after reopening:\n%s", page)
			}
			if res, _ = send(anon, "POST", "/report/follow/"+token+"/reopen", "application/x-www-form-urlencoded", strings.NewReader("reason=again")); res.StatusCode != http.StatusConflict {
				t.Fatalf("reopening an open report: %d", res.StatusCode)
			}
			var events int
			if err := a.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM event_log WHERE type LIKE 'gov.portico.report.%' AND subject = $1 AND data NOT LIKE '%rosa%'`, "report/"+number[1]).Scan(&events); err != nil || events != 3 {
				t.Fatalf("events: %d %v", events, err)
			}

			// Nearby: by point and by ZIP, never personal data.
			for _, q := range []string{"lat=39.78&long=-89.65", "zipcode=70102"} {
				res, page = send(anon, "GET", "/report/nearby?"+q, "", nil)
				if res.StatusCode != 200 || !strings.Contains(page, ">"+number[1]+"<") || strings.Contains(page, "rosa") || strings.Contains(page, "bike lane") {
					t.Fatalf("nearby %s: %d\n%s", q, res.StatusCode, page)
				}
			}
			if res, page = send(anon, "GET", "/report/nearby?zipcode=abc", "", nil); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "5-digit ZIP") {
				t.Fatalf("nearby with a bad ZIP: %d\n%s", res.StatusCode, page)
			}
			// An unknown follow link is not found.
			if res, _ = send(anon, "GET", "/report/follow/"+strings.Repeat("A", 43), "", nil); res.StatusCode != http.StatusNotFound {
				t.Fatalf("unknown link: %d", res.StatusCode)
			}
		})
	}
}
