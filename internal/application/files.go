package application

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets, the default
	_ "gocloud.dev/blob/memblob"  // mem:// buckets, for tests and benchmarks

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Files is where uploaded files are kept: a gocloud.dev/blob bucket
// (file:// under the data directory by default, s3:// at scale). Keys are
// chosen by the server (applications/APP/ATTACHMENT); a person's file
// name is only a label.
type Files struct {
	bucket *blob.Bucket
}

// OpenFiles opens the bucket at url. Schemes other than file:// and mem://
// must be registered by the program (internal/app registers s3://).
func OpenFiles(ctx context.Context, url string) (*Files, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("application: open attachments bucket: %w", err)
	}
	return &Files{bucket: b}, nil
}

// Close releases the bucket.
func (f *Files) Close() error { return f.bucket.Close() }

// Attachment is a file uploaded as an answer.
type Attachment struct {
	ID            string
	ApplicationID string
	Page, Field   string
	Filename      string // as the person named it; for display only
	ContentType   string // as sniffed from the content
	Size          int64
	SHA256        string
	CreatedAt     time.Time
	key           string
}

// Upload is a file as it arrives in a form post.
type Upload struct {
	Filename string
	Size     int64 // as declared; checked again while reading
	Content  io.Reader
}

// Upload problems have these keys (apply.error.*).
const (
	problemFileType  = "apply.error.filetype"
	problemFileSize  = "apply.error.filesize"
	problemFileEmpty = "apply.error.fileempty"
	problemFileCount = "apply.error.filecount"
)

// MaxFilesPerApplication bounds the uploads one draft keeps (replaced
// files included), so a draft cannot be used to fill the bucket.
const MaxFilesPerApplication = 50

// Attach stores an uploaded file for field on page of the person's draft.
// Its type is sniffed from the first bytes of content (never the name or
// the browser's word) and must be one the field accepts; it must not be
// empty or larger than the field allows. A file that breaks a rule is a
// *Problem (not stored); the caller shows it beside the field.
func (s *Service) Attach(ctx context.Context, accountID, appID, pageID, field string, up Upload) (Attachment, *Problem, error) {
	app, form, err := s.owned(ctx, accountID, appID)
	if err != nil {
		return Attachment{}, nil, err
	}
	if err := closedError(app.Status); err != nil {
		return Attachment{}, nil, err
	}
	page := form.Page(pageID)
	var f *Field
	if page != nil {
		f = page.field(field)
	}
	if f == nil || f.Widget != "file" {
		return Attachment{}, nil, platform.Errorf(platform.CodeNotFound, "no such file field")
	}
	prob := func(key, arg string) *Problem {
		p := page.problem(field, "", key, arg)
		return &p
	}
	var count int
	if err := s.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM application_attachments WHERE application_id = $1`, app.ID).Scan(&count); err != nil {
		return Attachment{}, nil, fmt.Errorf("application: attach: %w", err)
	}
	if count >= MaxFilesPerApplication {
		return Attachment{}, prob(problemFileCount, itoa(MaxFilesPerApplication)), nil
	}
	limit := f.MaxBytes
	if up.Size > limit {
		return Attachment{}, prob(problemFileSize, sizeText(limit)), nil
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(up.Content, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Attachment{}, nil, fmt.Errorf("application: attach: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return Attachment{}, prob(problemFileEmpty, ""), nil
	}
	ctype, _, _ := strings.Cut(http.DetectContentType(head), ";")
	if !slices.Contains(f.Accept, ctype) {
		return Attachment{}, prob(problemFileType, acceptText(f.Accept)), nil
	}
	at := Attachment{
		ID: uuid.Must(uuid.NewV7()).String(), ApplicationID: app.ID, Page: pageID, Field: field,
		Filename: CleanFilename(up.Filename), ContentType: ctype, CreatedAt: s.clock.Now().UTC(),
	}
	at.key = "applications/" + app.ID + "/" + at.ID
	// Stream to the bucket, counting and hashing; a file that turns out
	// larger than declared is cut off and deleted.
	w, err := s.cfg.Files.bucket.NewWriter(ctx, at.key, &blob.WriterOptions{ContentType: ctype})
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("application: attach: %w", err)
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(io.MultiReader(bytes.NewReader(head), up.Content), limit+1))
	if err != nil {
		w.Close()
		_ = s.cfg.Files.bucket.Delete(ctx, at.key)
		return Attachment{}, nil, fmt.Errorf("application: attach: %w", err)
	}
	if err := w.Close(); err != nil {
		return Attachment{}, nil, fmt.Errorf("application: attach: %w", err)
	}
	if size > limit {
		_ = s.cfg.Files.bucket.Delete(ctx, at.key)
		return Attachment{}, prob(problemFileSize, sizeText(limit)), nil
	}
	at.Size, at.SHA256 = size, hex.EncodeToString(h.Sum(nil))
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		// The draft may have been withdrawn or submitted while the file
		// streamed in, and its files deleted already: check again under a
		// share lock (PostgreSQL; SQLite has one writer), so a withdrawal
		// either sees this row when its deletion job lists the files or
		// commits first and this upload is refused.
		q := `SELECT status FROM applications WHERE id = $1`
		if s.db.Dialect == storage.Postgres {
			q += ` FOR SHARE`
		}
		var status string
		if err := tx.QueryRowContext(ctx, q, app.ID).Scan(&status); err != nil {
			return err
		}
		if err := closedError(status); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO application_attachments (id, application_id, page, field, filename, content_type, size, sha256, blob_key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			at.ID, at.ApplicationID, at.Page, at.Field, at.Filename, at.ContentType, at.Size, at.SHA256, at.key, at.CreatedAt)
		return err
	})
	if err != nil {
		_ = s.cfg.Files.bucket.Delete(ctx, at.key)
		if platform.ErrorCode(err) == platform.CodeConflict {
			return Attachment{}, nil, err
		}
		return Attachment{}, nil, fmt.Errorf("application: attach: %w", err)
	}
	return at, nil, nil
}

// CleanFilename is the label kept for an uploaded file's name: its base
// name (no path), valid UTF-8, without control or format characters
// (Unicode Cc and Cf, which include the bidirectional overrides and
// isolates U+202A-U+202E and U+2066-U+2069, the marks U+200E, U+200F and
// U+061C, and zero-width characters) or line and paragraph separators, so
// "invoice\u202Efdp.exe" cannot show as "invoiceexe.pdf" to staff. It has
// at most 200 characters, is never empty, ".", ".." or "/", and cleaning
// it again changes nothing.
func CleanFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = clean(name, false)
	name = strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 200 {
		name = strings.TrimSpace(string([]rune(name)[:200]))
	}
	if name == "" || name == "." || name == ".." || name == "/" {
		name = "file"
	}
	return name
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", max(n>>10, 1))
}

func acceptText(types []string) string {
	names := map[string]string{"application/pdf": "PDF", "image/jpeg": "JPG", "image/png": "PNG"}
	var out []string
	for _, t := range types {
		out = append(out, names[t])
	}
	return strings.Join(out, ", ")
}

const attachmentColumns = `id, application_id, page, field, filename, content_type, size, sha256, blob_key, created_at`

func scanAttachment(r interface{ Scan(...any) error }) (Attachment, error) {
	var a Attachment
	err := r.Scan(&a.ID, &a.ApplicationID, &a.Page, &a.Field, &a.Filename, &a.ContentType, &a.Size, &a.SHA256, &a.key, &a.CreatedAt)
	a.CreatedAt = a.CreatedAt.UTC()
	return a, err
}

// Attachments returns the files uploaded to an application, by id. It
// does not check who asks; callers have authorised the application.
func (s *Service) Attachments(ctx context.Context, appID string) (map[string]Attachment, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+attachmentColumns+` FROM application_attachments WHERE application_id = $1`, appID)
	if err != nil {
		return nil, fmt.Errorf("application: attachments: %w", err)
	}
	defer rows.Close()
	out := map[string]Attachment{}
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, fmt.Errorf("application: attachments: %w", err)
		}
		out[a.ID] = a
	}
	return out, rows.Err()
}

// Attachment opens one file of an application for reading. It does not
// check who asks and does not audit: pages and the API call Download,
// which applies the policy and audits; the staff console's casework calls
// this after checking the case's agency.
// The caller closes the reader and should serve the file as a download
// (Content-Disposition: attachment, nosniff) with a.ContentType.
func (s *Service) Attachment(ctx context.Context, appID, attachmentID string) (Attachment, io.ReadCloser, error) {
	a, err := scanAttachment(s.db.Read().QueryRowContext(ctx, `SELECT `+attachmentColumns+` FROM application_attachments WHERE id = $1 AND application_id = $2`, attachmentID, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return Attachment{}, nil, platform.Errorf(platform.CodeNotFound, "no such file")
	}
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("application: attachment: %w", err)
	}
	r, err := s.cfg.Files.bucket.NewReader(ctx, a.key, nil)
	if err != nil {
		return Attachment{}, nil, fmt.Errorf("application: attachment %s: %w", a.ID, err)
	}
	return a, r, nil
}

// FileTooLarge is the problem of a post whose body broke the page's size
// limit, said about the page's file field name.
func (p *Page) FileTooLarge(name string) Problem {
	limit := int64(DefaultMaxBytes)
	if f := p.field(name); f != nil {
		limit = f.MaxBytes
	}
	return p.problem(name, "", problemFileSize, sizeText(limit))
}
