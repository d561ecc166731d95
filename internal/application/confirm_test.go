package application_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestConfirmationText: submitting sends the applicant one confirmation,
// in their language, to their email and their inbox, in the submitting
// transaction; its text is compared with testdata/confirmation.LANG.txt
// (go test ./internal/application -update rewrites them). Submitting
// again sends nothing more.
func TestConfirmationText(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		for _, c := range []struct {
			lang string
			ap   application.Applicant
		}{
			{"en", ana},
			{"es", func() application.Applicant {
				b := ana
				b.AccountID, b.Email, b.Lang = "acct-beto", "beto@example.com", "es"
				return b
			}()},
		} {
			t.Run(c.lang, func(t *testing.T) {
				draft := fillMarriageAs(t, e, c.ap)
				for range 2 {
					if _, err := e.svc.Submit(e.ctx, c.ap, draft.ID, draft.Revision); err != nil {
						t.Fatal(err)
					}
				}
				ns, err := e.notify.List(e.ctx, notify.Filter{Reference: application.ConfirmationReference(draft.ID)})
				if err != nil {
					t.Fatal(err)
				}
				if len(ns) != 2 || ns[0].Channel == ns[1].Channel {
					t.Fatalf("%d confirmations, want one email and one inbox message: %+v", len(ns), ns)
				}
				for _, n := range ns {
					if n.Lang != c.lang || n.AgencyID != "adams-clerk" || n.Subject != ns[0].Subject || n.BodyText != ns[0].BodyText {
						t.Errorf("%s: lang %q agency %q subject %q", n.Channel, n.Lang, n.AgencyID, n.Subject)
					}
					if n.Channel == notify.ChannelEmail && n.Recipient != c.ap.Email {
						t.Errorf("email to %q", n.Recipient)
					}
				}
				got := strings.ReplaceAll("Subject: "+ns[0].Subject+"\n\n"+ns[0].BodyText, draft.ID, "APP-ID")
				path := filepath.Join("testdata", "confirmation."+c.lang+".txt")
				if *update && db.Dialect == storage.SQLite {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if got != string(want) {
					t.Errorf("confirmation differs from %s (run with -update and review the diff):\n%s", path, got)
				}
			})
		}
	})
}
