package application

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// SweepArgs is the periodic job that reminds people of drafts about to
// expire and expires drafts whose time has passed.
type SweepArgs struct{}

// Kind names the job for River.
func (SweepArgs) Kind() string { return "application.sweep" }

// SweepInterval is how often the sweep runs (internal/app schedules it).
const SweepInterval = time.Hour

// sweepBatch bounds the rows one run handles; the next run takes the rest.
const sweepBatch = 500

// SweepWorker runs SweepArgs.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Service *Service
}

// Work runs one sweep.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	_, _, err := w.Service.Sweep(ctx)
	return err
}

// Sweep sends the expiry reminder for drafts within ReminderBefore of
// expiring and marks drafts past their expiry expired, by the platform
// clock; each expiry queues the deletion of the draft's files in its
// transaction (DeleteFilesArgs). It is idempotent: each reminder is claimed by setting
// reminded_at in the transaction that queues its email, and each
// expiry is a conditional update, so a rerun (or two workers) does
// nothing twice.
func (s *Service) Sweep(ctx context.Context) (reminded, expired int, err error) {
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "application-sweep"})
	now := s.clock.Now().UTC()
	type due struct {
		id, account, service, agency string
		version                      int
		expires                      time.Time
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, account_id, service_id, service_version, agency_id, expires_at FROM applications
		WHERE status = 'draft' AND expires_at <= $1 AND expires_at > $2 AND reminded_at IS NULL ORDER BY expires_at LIMIT $3`,
		now.Add(ReminderBefore), now, sweepBatch)
	if err != nil {
		return 0, 0, fmt.Errorf("application: sweep: %w", err)
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.account, &d.service, &d.version, &d.agency, &d.expires); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("application: sweep: %w", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("application: sweep: %w", err)
	}
	for _, d := range list {
		email, lang, err := s.cfg.Contacts.Contact(ctx, d.account)
		if err != nil {
			return reminded, expired, fmt.Errorf("application: sweep: contact of %s: %w", d.id, err)
		}
		f, err := s.Form(ctx, d.service, d.version)
		if err != nil {
			return reminded, expired, err
		}
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE applications SET reminded_at = $1 WHERE id = $2 AND status = 'draft' AND reminded_at IS NULL AND expires_at = $3`, now, d.id, d.expires)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err // changed or already reminded
			}
			reminded++
			return s.cfg.Mailer.SendEmail(ctx, tx, reminderEmail(email, lang, f, d.id, d.account, d.agency, d.expires, s.cfg.PublicURL, s.zone(ctx)))
		})
		if err != nil {
			return reminded, expired, fmt.Errorf("application: sweep: remind %s: %w", d.id, err)
		}
	}
	rows, err = s.db.Read().QueryContext(ctx, `SELECT id, agency_id, account_id, service_id, service_version FROM applications WHERE status = 'draft' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, now, sweepBatch)
	if err != nil {
		return reminded, expired, fmt.Errorf("application: sweep: %w", err)
	}
	var gone [][3]string
	var lapsed []eventData
	for rows.Next() {
		var id, agency, account, service string
		var version int
		if err := rows.Scan(&id, &agency, &account, &service, &version); err != nil {
			rows.Close()
			return reminded, expired, fmt.Errorf("application: sweep: %w", err)
		}
		gone = append(gone, [3]string{id, agency, account})
		lapsed = append(lapsed, eventData{ApplicationID: id, Service: service, Version: version})
	}
	rows.Close()
	for i, g := range gone {
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			// A draft submitted or withdrawn since it was listed is left
			// alone: the conditional update changes nothing and no file
			// deletion is queued.
			res, err := tx.ExecContext(ctx, `UPDATE applications SET status = 'expired', updated_at = $1 WHERE id = $2 AND status = 'draft' AND expires_at <= $1`, now, g[0])
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err
			}
			expired++
			if err := s.draftClosed(ctx, tx, g[2], g[0], false); err != nil {
				return err
			}
			if err := s.enqueueDeleteFiles(ctx, tx, g[0], StatusExpired); err != nil {
				return err
			}
			if _, err = s.cfg.Audit.Append(ctx, tx, audit.Record{Action: "application.expire", Subject: "application:" + g[0], AgencyID: g[1]}); err != nil {
				return err
			}
			return s.emit(ctx, tx, EventExpired, g[1], lapsed[i])
		})
		if err != nil {
			return reminded, expired, fmt.Errorf("application: sweep: expire %s: %w", g[0], err)
		}
	}
	return reminded, expired, nil
}

// reminderEmail is the expiry reminder, in the person's language, with
// the date in the jurisdiction's zone (loc).
func reminderEmail(to, lang string, f *Form, appID, account, agency string, expires time.Time, publicURL string, loc *time.Location) Email {
	link := strings.TrimRight(publicURL, "/") + "/apply/" + appID
	l := i18n.English
	title := f.Manifest.Title.EN
	if lang == "es" {
		l, title = i18n.Spanish, f.Manifest.Title.ES
	}
	m := i18n.Messages().For(l, loc)
	return Email{To: to, AccountID: account, Lang: string(l), AgencyID: agency, Reference: "application:" + appID,
		Subject: m.T("apply.mail.expiry.subject"),
		Text:    m.T("apply.mail.expiry.text", title, m.Date(expires), link)}
}

// zone is the time zone of dates in the block's emails.
func (s *Service) zone(ctx context.Context) *time.Location {
	if s.cfg.Zone != nil {
		if loc := s.cfg.Zone(ctx); loc != nil {
			return loc
		}
	}
	return time.UTC
}
