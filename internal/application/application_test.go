package application_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var ana = application.Applicant{AccountID: "acct-ana", Email: "ana@example.com", Lang: "en", LegalName: "Ana Citizen", DateOfBirth: "1988-04-12",
	Residential: application.Address{Line1: "12 Elm Street", City: "Springfield", State: "EX", ZIP: "70101"}}

var youPage = url.Values{"name": {"Ana Citizen"}, "born-day": {"12"}, "born-month": {"4"}, "born-year": {"1988"},
	"address-line1": {"12 Elm Street"}, "address-city": {"Springfield"}, "address-zip": {"70101"}}

var pdf = []byte("%PDF-1.7\n1 0 obj << >> endobj\n")

func save(t *testing.T, e *env, appID, page string, post url.Values) application.SaveResult {
	t.Helper()
	return saveAs(t, e, ana, appID, page, post)
}

func saveAs(t *testing.T, e *env, ap application.Applicant, appID, page string, post url.Values) application.SaveResult {
	t.Helper()
	res, err := e.svc.SavePage(e.ctx, ap, appID, page, post)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) > 0 {
		t.Fatalf("page %s: %v", page, res.Problems)
	}
	return res
}

// fillMarriage answers every page of the marriage licence, with a decree
// uploaded, and returns the draft.
func fillMarriage(t *testing.T, e *env) *application.Application {
	t.Helper()
	return fillMarriageAs(t, e, ana)
}

// fillMarriageAs is fillMarriage for applicant ap (who lives where Ana
// does).
func fillMarriageAs(t *testing.T, e *env, ap application.Applicant) *application.Application {
	t.Helper()
	app, err := e.svc.Start(e.ctx, ap, "adams-marriage-licence")
	if err != nil {
		t.Fatal(err)
	}
	saveAs(t, e, ap, app.ID, "you", youPage)
	saveAs(t, e, ap, app.ID, "partner", url.Values{"name": {"Bo Partner"}, "born-day": {"1"}, "born-month": {"2"}, "born-year": {"1990"}, "email": {"bo@example.com"}})
	saveAs(t, e, ap, app.ID, "previous", url.Values{"married_before": {"yes"}})
	at, prob, err := e.svc.Attach(e.ctx, ap.AccountID, app.ID, "divorce", "decree", application.Upload{Filename: "decree.pdf", Size: int64(len(pdf)), Content: bytes.NewReader(pdf)})
	if err != nil || prob != nil {
		t.Fatalf("attach: %v %v", prob, err)
	}
	res := saveAs(t, e, ap, app.ID, "divorce", url.Values{"decree": {at.ID}})
	if res.Next != application.CheckPage || res.App.Page != application.CheckPage {
		t.Fatalf("after the last page: next %q, resume %q", res.Next, res.App.Page)
	}
	return res.App
}

// TestDraftToSubmission goes through the life of an application on each
// engine: start (twice: one draft), a bad page (nothing saved), good
// pages, uploads (refused by content, accepted), a forged file id, a stale
// submission, submission with fee and case, and submitting again.
func TestDraftToSubmission(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		app, err := e.svc.Start(e.ctx, ana, "adams-marriage-licence")
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.svc.Start(e.ctx, ana, "adams-marriage-licence")
		if err != nil || again.ID != app.ID {
			t.Fatalf("second start made another draft: %v %v", again, err)
		}
		if app.Page != "you" || app.ServiceVersion != 1 || app.ExpiresAt == nil || !app.ExpiresAt.Equal(e.clock.Now().Add(application.DraftLifetime)) {
			t.Fatalf("new draft = %+v", app)
		}
		// A bad page is refused whole and changes nothing.
		bad := url.Values{"name": {"Ana"}, "born-day": {"31"}, "born-month": {"4"}, "born-year": {"1988"}}
		res, err := e.svc.SavePage(e.ctx, ana, app.ID, "you", bad)
		if err != nil || len(res.Problems) == 0 || res.Typed.Get("born-day") != "31" {
			t.Fatalf("bad page: %+v %v", res, err)
		}
		if cur, _, _ := e.svc.Open(e.ctx, citizen(ana.AccountID), app.ID); cur.Revision != 0 || len(cur.Answers) != 0 {
			t.Fatalf("bad page was saved: %+v", cur)
		}
		// Someone else cannot see or change it.
		if _, _, err := e.svc.Open(e.ctx, citizen("acct-beto"), app.ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("other person's Get: %v", err)
		}
		if _, err := e.svc.SavePage(e.ctx, application.Applicant{AccountID: "acct-beto"}, app.ID, "you", youPage); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("other person's save: %v", err)
		}
		// The divorce page is not shown yet.
		if _, err := e.svc.SavePage(e.ctx, ana, app.ID, "divorce", url.Values{}); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("hidden page accepted: %v", err)
		}
		// Files: the content decides the type, not the name.
		_, prob, err := e.svc.Attach(e.ctx, ana.AccountID, app.ID, "divorce", "decree", application.Upload{Filename: "decree.pdf", Size: 12, Content: strings.NewReader("<html>hi</html>")})
		if err != nil || prob == nil || prob.Key != "apply.error.filetype" {
			t.Fatalf("html named .pdf: %v %v", prob, err)
		}
		big := bytes.Repeat([]byte{0}, 5<<20+1)
		copy(big, pdf)
		_, prob, err = e.svc.Attach(e.ctx, ana.AccountID, app.ID, "divorce", "decree", application.Upload{Filename: "big.pdf", Size: -1, Content: bytes.NewReader(big)})
		if err != nil || prob == nil || prob.Key != "apply.error.filesize" || prob.Arg != "5 MB" {
			t.Fatalf("oversized file (size not declared): %v %v", prob, err)
		}
		draft := fillMarriage(t, e)
		if draft.ID != app.ID || draft.Revision != 4 {
			t.Fatalf("draft = %s revision %d", draft.ID, draft.Revision)
		}
		// A forged file id is refused.
		res, err = e.svc.SavePage(e.ctx, ana, app.ID, "divorce", url.Values{"decree": {"someone-elses-file"}})
		if err != nil || len(res.Problems) != 1 || res.Problems[0].Key != "apply.error.file" {
			t.Fatalf("forged file id: %+v %v", res.Problems, err)
		}
		files, _ := e.svc.Attachments(e.ctx, app.ID)
		var decree application.Attachment
		for _, a := range files {
			decree = a
		}
		_, rc, err := e.svc.Download(e.ctx, citizen(ana.AccountID), app.ID, decree.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, pdf) || decree.ContentType != "application/pdf" {
			t.Fatalf("file back = %q (%s)", got, decree.ContentType)
		}
		if _, _, err := e.svc.Download(e.ctx, citizen("acct-beto"), app.ID, decree.ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("other person's file: %v", err)
		}
		// Submitting what was not checked is refused.
		if _, err := e.svc.Submit(e.ctx, ana, app.ID, draft.Revision-1); !errors.Is(err, application.ErrStale) {
			t.Fatalf("stale submit: %v", err)
		}
		e.clock.Advance(time.Hour)
		sub, err := e.svc.Submit(e.ctx, ana, app.ID, draft.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Status != application.StatusSubmitted || sub.Reference != "ADAMS-CLERK-2026-000001" || sub.FeeAmount == nil || *sub.FeeAmount != 6000 || sub.FeeCurrency != "USD" || sub.ExpiresAt != nil {
			t.Fatalf("submitted = %+v", sub)
		}
		// Twice is once.
		again2, err := e.svc.Submit(e.ctx, ana, app.ID, draft.Revision)
		if err != nil || again2.Reference != sub.Reference {
			t.Fatalf("second submit: %+v %v", again2, err)
		}
		staff, _, err := e.svc.ForCase(e.ctx, app.ID)
		if err != nil || staff.Reference != sub.Reference || staff.Answers["divorce"]["decree"] != decree.ID {
			t.Fatalf("ForCase = %+v %v", staff, err)
		}
		var cases int
		if err := db.Read().QueryRowContext(e.ctx, `SELECT COUNT(*) FROM cases WHERE id = $1`, app.ID).Scan(&cases); err != nil || cases != 1 {
			t.Fatalf("cases = %d %v", cases, err)
		}
		// Frozen: no more changes.
		if _, err := e.svc.SavePage(e.ctx, ana, app.ID, "you", youPage); platform.ErrorCode(err) != platform.CodeConflict {
			t.Fatalf("save after submit: %v", err)
		}
		// A new start is a new draft.
		next, err := e.svc.Start(e.ctx, ana, "adams-marriage-licence")
		if err != nil || next.ID == app.ID {
			t.Fatalf("start after submit: %v %v", next, err)
		}
	})
}

// TestSubmitDropsHiddenPages: answers of a page no longer shown are not
// submitted, and a page shown but unanswered stops the submission.
func TestSubmitDropsHiddenPages(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		draft := fillMarriage(t, e)
		res := save(t, e, draft.ID, "previous", url.Values{"married_before": {"no"}})
		sub, err := e.svc.Submit(e.ctx, ana, draft.ID, res.App.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := sub.Answers["divorce"]; ok {
			t.Fatalf("hidden page submitted: %v", sub.Answers)
		}
		other, err := e.svc.Start(e.ctx, ana, "springfield-pothole")
		if err != nil {
			t.Fatal(err)
		}
		var inc *application.IncompleteError
		if _, err := e.svc.Submit(e.ctx, ana, other.ID, other.Revision); !errors.As(err, &inc) || inc.Page != "where" {
			t.Fatalf("incomplete submit: %v", err)
		}
	})
}

// TestConcurrentSubmit submits one draft from many goroutines at once (a
// double click, a retry, two devices): one case, one reference, and every
// caller gets that reference.
func TestConcurrentSubmit(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		draft := fillMarriage(t, e)
		const n = 8
		refs := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				app, err := e.svc.Submit(e.ctx, ana, draft.ID, draft.Revision)
				errs[i] = err
				if app != nil {
					refs[i] = app.Reference
				}
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || refs[i] != refs[0] || refs[i] == "" {
				t.Fatalf("submit %d: %q %v (first %q)", i, refs[i], errs[i], refs[0])
			}
		}
		var cases, counters int
		if err := db.Read().QueryRowContext(e.ctx, `SELECT COUNT(*) FROM cases`).Scan(&cases); err != nil {
			t.Fatal(err)
		}
		if err := db.Read().QueryRowContext(e.ctx, `SELECT last FROM reference_counters WHERE agency_id = 'adams-clerk'`).Scan(&counters); err != nil {
			t.Fatal(err)
		}
		if cases != 1 || counters != 1 {
			t.Fatalf("cases %d, references taken %d; want 1 and 1", cases, counters)
		}
		// The front door's "most used" counted the submission once, in
		// its transaction.
		used, err := e.cat.MostUsed(e.ctx, e.clock.Now(), nil, 5)
		if err != nil || len(used) != 1 || used[0].Service.ID != "adams-marriage-licence" || used[0].Submissions != 1 {
			t.Fatalf("most used after one submission = %+v, %v", used, err)
		}
	})
}

// TestConcurrentStart: "Start now" pressed many times at once makes one
// draft.
func TestConcurrentStart(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		const n = 6
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				app, err := e.svc.Start(e.ctx, ana, "springfield-pothole")
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = app.ID
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("drafts %v", ids)
			}
		}
	})
}

// TestSweep reminds once before expiry and expires after, by the platform
// clock; reruns do nothing more.
func TestSweep(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		app, err := e.svc.Start(e.ctx, ana, "springfield-pothole")
		if err != nil {
			t.Fatal(err)
		}
		if r, x, err := e.svc.Sweep(e.ctx); err != nil || r+x != 0 {
			t.Fatalf("fresh draft swept: %d %d %v", r, x, err)
		}
		e.clock.Advance(application.DraftLifetime - application.ReminderBefore + time.Minute)
		for i, want := range []int{1, 0} {
			r, x, err := e.svc.Sweep(e.ctx)
			if err != nil || r != want || x != 0 {
				t.Fatalf("sweep %d: reminded %d expired %d %v", i, r, x, err)
			}
		}
		var subject, body string
		if err := db.Read().QueryRowContext(e.ctx, `SELECT subject, body_text FROM notifications WHERE recipient = 'ana@example.com'`).Scan(&subject, &body); err != nil {
			t.Fatal(err)
		}
		if subject != "Your unfinished application expires soon" || !strings.Contains(body, "https://services.example.gov/apply/"+app.ID) || !strings.Contains(body, "December 24, 2026") {
			t.Fatalf("reminder: %s\n%s", subject, body)
		}
		e.clock.Advance(application.ReminderBefore)
		for i, want := range []int{1, 0} {
			r, x, err := e.svc.Sweep(e.ctx)
			if err != nil || r != 0 || x != want {
				t.Fatalf("expiry sweep %d: reminded %d expired %d %v", i, r, x, err)
			}
		}
		cur, _, err := e.svc.Open(e.ctx, citizen(ana.AccountID), app.ID)
		if err != nil || cur.Status != application.StatusExpired {
			t.Fatalf("after expiry: %+v %v", cur, err)
		}
		if _, err := e.svc.SavePage(e.ctx, ana, app.ID, "where", url.Values{}); platform.ErrorCode(err) != platform.CodeConflict {
			t.Fatalf("save to expired draft: %v", err)
		}
	})
}

// TestDashboard lists drafts and submitted applications with the case's
// state title and whether the citizen must act.
func TestDashboard(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		draft := fillMarriage(t, e)
		if _, err := e.svc.Submit(e.ctx, ana, draft.ID, draft.Revision); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		pothole, err := e.svc.Start(e.ctx, ana, "springfield-pothole")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Write().ExecContext(e.ctx, `UPDATE cases SET waiting_on = 'citizen' WHERE id = $1`, draft.ID); err != nil {
			t.Fatal(err)
		}
		drafts, submitted, err := e.svc.Dashboard(e.ctx, platform.Actor{Kind: platform.ActorCitizen, ID: ana.AccountID})
		if err != nil {
			t.Fatal(err)
		}
		if len(drafts) != 1 || drafts[0].App.ID != pothole.ID || drafts[0].ServiceTitle.EN != "Report a pothole" {
			t.Fatalf("drafts = %+v", drafts)
		}
		if len(submitted) != 1 || submitted[0].StateTitle.EN != "Submitted" || !submitted[0].ActionNeeded || submitted[0].App.Reference == "" {
			t.Fatalf("submitted = %+v", submitted)
		}
		if d, s, err := e.svc.Dashboard(e.ctx, platform.Actor{Kind: platform.ActorCitizen, ID: "acct-beto"}); err != nil || len(d)+len(s) != 0 {
			t.Fatalf("Beto's dashboard: %v %v %v", d, s, err)
		}
	})
}

// TestDashboardPages: a person with more applications than a page holds
// sees the most recent DashboardLimit, and Older leads through the rest,
// each exactly once, in order, including applications changed in the
// same instant; another person's application is not a page to continue
// from.
func TestDashboardPages(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		draft := fillMarriage(t, e)
		if _, err := e.svc.Submit(e.ctx, ana, draft.ID, draft.Revision); err != nil {
			t.Fatal(err)
		}
		// Copies of the submitted application, two at each instant.
		const n = application.DashboardLimit + 31
		base := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
		for i := range n {
			if _, err := db.Write().ExecContext(e.ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, page, reference, created_at, updated_at, submitted_at)
				SELECT $2, service_id, service_version, agency_id, account_id, status, answers, page, $3, created_at, $4, submitted_at FROM applications WHERE id = $1`,
				draft.ID, fmt.Sprintf("copy-%03d", i), fmt.Sprintf("COPY-%03d", i), base.Add(time.Duration(i/2)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		anaActor := platform.Actor{Kind: platform.ActorCitizen, ID: ana.AccountID}
		seen := map[string]bool{}
		var order []string
		older, pages := "", 0
		for {
			page, err := e.svc.DashboardPage(e.ctx, anaActor, older)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page.Submitted) > application.DashboardLimit {
				t.Fatalf("a page of %d", len(page.Submitted))
			}
			for _, s := range page.Submitted {
				if seen[s.App.ID] {
					t.Fatalf("%s listed twice", s.App.ID)
				}
				seen[s.App.ID] = true
				order = append(order, s.App.ID)
			}
			if older = page.Older; older == "" {
				break
			}
		}
		if pages != 2 || len(seen) != n+1 || order[0] != draft.ID {
			t.Fatalf("%d pages, %d applications (want 2 and %d), first %s", pages, len(seen), n+1, order[0])
		}
		// Most recent first: the copies from the last instant down.
		if order[1] != fmt.Sprintf("copy-%03d", n-1) || order[len(order)-1] != "copy-000" {
			t.Fatalf("order %v … %v", order[:3], order[len(order)-3:])
		}
		if _, err := e.svc.DashboardPage(e.ctx, platform.Actor{Kind: platform.ActorCitizen, ID: "acct-beto"}, "copy-005"); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Fatalf("Beto continuing from Ana's application: %v", err)
		}
	})
}

// TestEligibility: a draft starts only for a person the manifest's
// eligibility rule accepts.
func TestEligibility(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		child := application.Applicant{AccountID: "acct-child", DateOfBirth: "2015-06-01"}
		for _, tc := range []struct {
			who     application.Applicant
			service string
			ok      bool
		}{
			{ana, "fishing-licence", true},
			{child, "fishing-licence", false},
			{ana, "springfield-business-licence", false}, // needs a verified identity
			{child, "springfield-pothole", true},         // anyone may report a pothole
		} {
			_, err := e.svc.Start(e.ctx, tc.who, tc.service)
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, application.ErrNotEligible) {
				t.Errorf("%s starting %s: %v, want ok=%v", tc.who.AccountID, tc.service, err, tc.ok)
			}
		}
	})
}

// TestWithdraw deletes a draft and its files; a submitted application
// cannot be withdrawn here.
func TestWithdraw(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		app, err := e.svc.Start(e.ctx, ana, "springfield-pothole")
		if err != nil {
			t.Fatal(err)
		}
		png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 100)...)
		at, prob, err := e.svc.Attach(e.ctx, ana.AccountID, app.ID, "where", "photo", application.Upload{Filename: "hole.png", Size: int64(len(png)), Content: bytes.NewReader(png)})
		if err != nil || prob != nil || at.ContentType != "image/png" {
			t.Fatalf("attach png: %+v %v %v", at, prob, err)
		}
		if err := e.svc.Withdraw(e.ctx, citizen("acct-beto"), app.ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("someone else withdrew it: %v", err)
		}
		if err := e.svc.Withdraw(e.ctx, citizen(ana.AccountID), app.ID); err != nil {
			t.Fatal(err)
		}
		cur, _, err := e.svc.Open(e.ctx, citizen(ana.AccountID), app.ID)
		if err != nil || cur.Status != application.StatusWithdrawn {
			t.Fatalf("after withdraw: %+v %v", cur, err)
		}
		if err := e.svc.Withdraw(e.ctx, citizen(ana.AccountID), app.ID); !errors.Is(err, application.ErrClosed) {
			t.Fatalf("withdrew twice: %v", err)
		}
		if _, rc, err := e.svc.Attachment(e.ctx, app.ID, at.ID); err != nil {
			t.Fatalf("file deleted before its job ran: %v", err)
		} else {
			rc.Close()
		}
		e.runFileDeletions(t)
		if _, _, err := e.svc.Attachment(e.ctx, app.ID, at.ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("file kept after withdraw: %v", err)
		}
		if d, _, err := e.svc.Dashboard(e.ctx, platform.Actor{Kind: platform.ActorCitizen, ID: ana.AccountID}); err != nil || len(d) != 0 {
			t.Fatalf("withdrawn draft listed: %v %v", d, err)
		}
		draft := fillMarriage(t, e)
		if _, err := e.svc.Submit(e.ctx, ana, draft.ID, draft.Revision); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Withdraw(e.ctx, citizen(ana.AccountID), draft.ID); !errors.Is(err, application.ErrSubmitted) {
			t.Fatalf("withdrew a submitted application: %v", err)
		}
		if err := e.svc.DeleteFiles(e.ctx, draft.ID, "test"); !errors.Is(err, application.ErrNotClosed) {
			t.Fatalf("deleted the files of a submitted application: %v", err)
		}
		if files, err := e.svc.Attachments(e.ctx, draft.ID); err != nil || len(files) != 1 {
			t.Fatalf("submitted application's files: %v %v", files, err)
		}
		var audited int
		if err := db.Read().QueryRowContext(e.ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'application.file.delete' AND subject = $1`, "application:"+app.ID).Scan(&audited); err != nil {
			t.Fatal(err)
		}
		if audited != 1 {
			t.Fatalf("file deletions audited %d times, want 1", audited)
		}
	})
}

// TestFileCountLimit: a draft keeps at most MaxFilesPerApplication uploads.
func TestFileCountLimit(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		app, err := e.svc.Start(e.ctx, ana, "springfield-pothole")
		if err != nil {
			t.Fatal(err)
		}
		png := append([]byte("\x89PNG\r\n\x1a\n"), 0)
		for i := range application.MaxFilesPerApplication + 1 {
			_, prob, err := e.svc.Attach(e.ctx, ana.AccountID, app.ID, "where", "photo", application.Upload{Filename: "p.png", Size: int64(len(png)), Content: bytes.NewReader(png)})
			if err != nil {
				t.Fatal(err)
			}
			if (prob != nil) != (i == application.MaxFilesPerApplication) || prob != nil && prob.Key != "apply.error.filecount" {
				t.Fatalf("upload %d: %+v", i, prob)
			}
		}
	})
}
