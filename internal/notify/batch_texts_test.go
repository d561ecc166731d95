package notify_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestSendTextsToAccountsStoresWhatOneByOneDoes: a batch's messages stored
// in one call (ADR 76) are the rows and jobs that SendTextToAccount
// stores for each: the channels each citizen chose, an invalid address
// refused alone with nothing of it stored, the inbox copy delivered at
// once with its receipt when the agency has a callback, SMS with their
// own delivery job, and the emails in batch delivery jobs after Flush.
func TestSendTextsToAccountsStoresWhatOneByOneDoes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarnessConfig(t, db, platform.SystemClock{}, notify.Config{AllowHTTPCallbacks: true}, jobs.Config{MaxAttempts: 1})
		ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer ts.Close()
		if err := h.svc.SetCallback(ctx, "dmv", ts.URL+"/receipts", "s3cret-bearer-token"); err != nil {
			t.Fatal(err)
		}
		prefs := map[string]*notify.Preferences{
			"sms":     {SMS: true, Phone: "555 555 0123"},
			"nomail":  {},
			"all":     {Email: true, SMS: true, InApp: true, Phone: "+15555550123", Lang: "es"},
			"default": nil,
			"invalid": nil,
		}
		for _, way := range []string{"one", "many"} {
			for acct, p := range prefs {
				if p != nil {
					q := *p
					q.AccountID = way + "-" + acct
					if _, err := h.svc.SetPreferences(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		// Each way stores the same messages (the accounts of the "many"
		// way have their own ids), one agency with a callback, one without.
		texts := func(way string) []notify.AccountText {
			var out []notify.AccountText
			for _, acct := range []string{"default", "sms", "nomail", "all", "invalid", "default"} {
				to := acct + "@example.com"
				if acct == "invalid" {
					to = "not an address"
				}
				agency := "dmv"
				if len(out)%2 == 1 {
					agency = "tax"
				}
				out = append(out, notify.AccountText{AccountID: way + "-" + acct, Email: to, Subject: "Renew", Text: "It is due.",
					Lang: "en", AgencyID: agency, Reference: fmt.Sprintf("%s:%d", way, len(out))})
			}
			return out
		}
		type result struct {
			ids  []bool // a notification id returned
			errs []platform.Code
		}
		run := map[string]result{}
		for _, way := range []string{"one", "many"} {
			var r result
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				b := h.svc.Batch()
				ms := texts(way)
				if way == "one" {
					for _, m := range ms {
						id, err := b.SendTextToAccount(ctx, tx, m)
						if err != nil && platform.ErrorCode(err) != platform.CodeInvalid {
							return err
						}
						r.ids, r.errs = append(r.ids, id != ""), append(r.errs, platform.ErrorCode(err))
					}
				} else {
					ids, errs, err := b.SendTextsToAccounts(ctx, tx, ms)
					if err != nil {
						return err
					}
					for i := range ms {
						r.ids, r.errs = append(r.ids, ids[i] != ""), append(r.errs, platform.ErrorCode(errs[i]))
					}
				}
				return b.Flush(ctx, tx)
			}); err != nil {
				t.Fatal(err)
			}
			run[way] = r
		}
		if !slices.Equal(run["one"].ids, run["many"].ids) || !slices.Equal(run["one"].errs, run["many"].errs) {
			t.Errorf("one by one: ids %v errors %v; many: ids %v errors %v", run["one"].ids, run["one"].errs, run["many"].ids, run["many"].errs)
		}
		if run["many"].errs[4] != platform.CodeInvalid {
			t.Errorf("the invalid address: %v", run["many"].errs[4])
		}
		// The rows of each way, without what differs by way (ids, times,
		// the account in the recipient and reference).
		rows := func(way string) []string {
			r, err := db.Read().QueryContext(ctx, `SELECT channel, recipient, subject, body_text, lang, status, agency_id, attempts,
				sent_at IS NULL, completed_at IS NULL, account_id <> '', template_id, key_type, reference
				FROM notifications WHERE reference LIKE $1 ORDER BY reference, channel`, way+":%")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var out []string
			for r.Next() {
				var ch, rcpt, subj, body, lang, st, agency, tmpl, kt, ref string
				var attempts int
				var noSent, noDone, hasAcct bool
				if err := r.Scan(&ch, &rcpt, &subj, &body, &lang, &st, &agency, &attempts, &noSent, &noDone, &hasAcct, &tmpl, &kt, &ref); err != nil {
					t.Fatal(err)
				}
				if ch == "inapp" {
					rcpt = rcpt[len(way):]
				}
				out = append(out, fmt.Sprintln(ch, rcpt, subj, body, lang, st, agency, attempts, noSent, noDone, hasAcct, tmpl, kt, ref[len(way):]))
			}
			return out
		}
		one, many := rows("one"), rows("many")
		if len(one) == 0 || !slices.Equal(one, many) {
			t.Errorf("rows one by one:\n%q\nmany:\n%q", one, many)
		}
		var kinds []string
		r, err := db.Read().QueryContext(ctx, `SELECT kind, COUNT(*) FROM river_job GROUP BY kind ORDER BY kind`)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var k string
			var n int
			if err := r.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		// Per way: 2 SMS, 2 receipts (inbox copies of dmv's messages: 3,
		// one of them the refused one's, which is not stored), 1 batch.
		want := []string{"notify.callback 4", "notify.email_batch 2", "notify.sms 4"}
		if !slices.Equal(kinds, want) {
			t.Errorf("jobs %v, want %v", kinds, want)
		}
	})
}
