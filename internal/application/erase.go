package application

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"gocloud.dev/gcerrors"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
)

// A draft that is withdrawn or expires loses its files, but only after
// the status change has committed: the change enqueues DeleteFilesArgs
// in its own transaction (the outbox), so the files of a draft that a
// concurrent submission won are never touched, and files of a closed
// draft are deleted even if the process stops right after the commit.

// DeleteFilesArgs is the job that deletes the uploaded files of a draft
// that was withdrawn or expired.
type DeleteFilesArgs struct {
	ApplicationID string `json:"application_id"`
	// Reason is the status that closed the draft (withdrawn or expired),
	// recorded in the audit entry of each deletion.
	Reason string `json:"reason"`
}

// Kind names the job for River.
func (DeleteFilesArgs) Kind() string { return "application.delete_files" }

// DeleteFilesWorker runs DeleteFilesArgs.
type DeleteFilesWorker struct {
	river.WorkerDefaults[DeleteFilesArgs]
	Service *Service
}

// Work deletes the files. A job for an application that is not closed,
// or does not exist, is cancelled, not retried: it can only come from a
// bug, and retrying would never make the deletion right.
func (w *DeleteFilesWorker) Work(ctx context.Context, job *river.Job[DeleteFilesArgs]) error {
	err := w.Service.DeleteFiles(ctx, job.Args.ApplicationID, job.Args.Reason)
	if errors.Is(err, ErrNotClosed) || platform.ErrorCode(err) == platform.CodeNotFound {
		return river.JobCancel(err)
	}
	return err
}

// ErrNotClosed is returned by DeleteFiles for an application that is a
// draft or submitted: its files are never deleted.
var ErrNotClosed = platform.Errorf(platform.CodeConflict, "application is not withdrawn or expired")

// enqueueDeleteFiles queues the deletion of a closed draft's files in tx,
// the transaction that closed it.
func (s *Service) enqueueDeleteFiles(ctx context.Context, tx *sql.Tx, appID, reason string) error {
	return jobs.Enqueue(ctx, s.cfg.Jobs, tx, DeleteFilesArgs{ApplicationID: appID, Reason: reason}, nil)
}

// DeleteFiles deletes every file uploaded to a withdrawn or expired
// application: for each, the bytes first, then its row in a transaction
// that audits the deletion ("application.file.delete"). It is idempotent:
// a file already gone from the bucket counts as deleted, a row another
// run deleted is neither deleted nor audited twice, and a run stopped
// part-way leaves rows that the next attempt finishes.
func (s *Service) DeleteFiles(ctx context.Context, appID, reason string) error {
	ctx = platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "application-files"})
	var status, agency string
	err := s.db.Read().QueryRowContext(ctx, `SELECT status, agency_id FROM applications WHERE id = $1`, appID).Scan(&status, &agency)
	if errors.Is(err, sql.ErrNoRows) {
		return platform.Errorf(platform.CodeNotFound, "no such application")
	}
	if err != nil {
		return fmt.Errorf("application: delete files of %s: %w", appID, err)
	}
	if status != StatusWithdrawn && status != StatusExpired {
		return fmt.Errorf("application: delete files of %s (%s): %w", appID, status, ErrNotClosed)
	}
	files, err := s.Attachments(ctx, appID)
	if err != nil {
		return err
	}
	for _, a := range files {
		if err := s.cfg.Files.bucket.Delete(ctx, a.key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("application: delete file %s: %w", a.ID, err)
		}
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM application_attachments WHERE id = $1 AND application_id = $2`, a.ID, appID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err // another run deleted (and audited) it
			}
			_, err = s.cfg.Audit.Append(ctx, tx, audit.Record{Action: "application.file.delete", Subject: "application:" + appID, AgencyID: agency,
				Detail: map[string]any{"file": a.ID, "sha256": a.SHA256, "size": a.Size, "reason": reason}})
			return err
		})
		if err != nil {
			return fmt.Errorf("application: delete file %s: %w", a.ID, err)
		}
	}
	return nil
}

// closedError says why a draft could not be changed, from the status
// that won: ErrSubmitted or ErrClosed; nil for a draft.
func closedError(status string) error {
	switch status {
	case StatusDraft:
		return nil
	case StatusSubmitted:
		return ErrSubmitted
	default:
		return ErrClosed
	}
}

// ErrSubmitted is returned by Withdraw (and by changes to a draft) when
// the application has been submitted, perhaps at the same moment from
// another tab: nothing was changed and its files are kept.
var ErrSubmitted = platform.Errorf(platform.CodeConflict, "apply.error.submitted")

// ErrClosed is returned when the draft was already withdrawn or expired:
// Submit sends nothing, Withdraw changes nothing.
var ErrClosed = platform.Errorf(platform.CodeConflict, "apply.error.closed")
