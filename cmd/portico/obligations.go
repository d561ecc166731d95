package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
)

// obligationsCommands is `portico obligations …`: amounts agencies load.
func obligationsCommands() *command {
	return &command{name: "obligations", summary: "load amounts people owe an agency (property-tax instalments, fees)", subs: []*command{
		{name: "import", summary: "load a CSV of amounts owed; bad rows go to a rejects file, good rows are loaded", run: runObligationsImport},
	}}
}

// errRejected makes `obligations import` exit non-zero when any row was
// rejected (the good rows are loaded all the same).
type errRejected struct {
	n       int
	rejects string
}

func (e errRejected) Error() string {
	return fmt.Sprintf("%d row(s) rejected; see %s", e.n, e.rejects)
}

// plainProgressEvery is how many rows pass between progress lines when
// stderr is not a terminal.
const plainProgressEvery = 10_000

func runObligationsImport(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico obligations import", "--agency A FILE.csv [--dry-run] [--rejects PATH] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the agency the amounts are owed to (required)")
	dryRun := fs.Bool("dry-run", false, "check every row and write the rejects file, but load nothing")
	rejectsPath := fs.String("rejects", "", "where to write the rejected rows (default: FILE.rejects.csv beside the input)")
	batch := fs.Int("batch", reminder.DefaultImportBatch, "good rows committed per transaction")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	files, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if *agency == "" {
		return usagef("give the agency with --agency")
	}
	if len(files) != 1 {
		return usagef("name one CSV file")
	}
	if *batch < 1 || *batch > 10_000 {
		return usagef("--batch must be from 1 to 10000")
	}
	path := files[0]
	if *rejectsPath == "" {
		*rejectsPath = strings.TrimSuffix(path, filepath.Ext(path)) + ".rejects.csv"
	}
	if abs(*rejectsPath) == abs(path) {
		return usagef("--rejects must not be the input file")
	}
	f, err := os.Open(path)
	if err != nil {
		return platform.Errorf(platform.CodeInvalid, "cannot open %s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return platform.Errorf(platform.CodeInvalid, "%s is not a file", path)
	}
	prog := newImportProgress(e, st.Size())
	rows, err := reminder.NewCSVRows(prog.reader(f))
	if err != nil {
		return platform.Errorf(platform.CodeInvalid, "%s: %v", path, strings.TrimPrefix(err.Error(), reminder.ErrBadHeader.Error()+": "))
	}
	rej := &rejectsFile{path: *rejectsPath, header: rows.Header()}
	defer rej.close()
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		im, err := reminder.NewImporter(a.Reminders, a.ObligationImportDirectory(), *batch)
		if err != nil {
			return err
		}
		started := time.Now()
		sum, err := im.Import(ctx, platform.ActorFrom(ctx), *agency, rows, reminder.ImportOptions{DryRun: *dryRun, Name: filepath.Base(path),
			OnRow: func(r reminder.RowResult) error {
				prog.row(r)
				if r.Status == reminder.RowRejected {
					return rej.write(r)
				}
				return nil
			}})
		prog.done()
		if cerr := rej.close(); err == nil {
			err = cerr
		}
		elapsed := time.Since(started)
		if err != nil {
			fmt.Fprintf(e.stderr, "Stopped after %d row(s): %d loaded before the stop stay loaded; importing the file again is safe.\n",
				sum.Rows, sum.Created+sum.Updated+sum.Unchanged)
			return err
		}
		out := importReport{ImportSummary: sum, Seconds: elapsed.Seconds()}
		if sum.Rejected > 0 {
			out.Rejects = rej.path
		}
		if err := output(e, *asJSON, out, func(w io.Writer) {
			rate := float64(sum.Rows) / max(elapsed.Seconds(), 0.001)
			if sum.DryRun {
				fmt.Fprintf(w, "Dry run: %d row(s) checked for %s in %.1fs: %d would load, %d rejected. Nothing was loaded.\n",
					sum.Rows, sum.Agency, elapsed.Seconds(), sum.Valid, sum.Rejected)
			} else {
				fmt.Fprintf(w, "%d row(s) for %s in %.1fs (%.0f rows/s): %d new, %d updated, %d unchanged, %d rejected.\n",
					sum.Rows, sum.Agency, elapsed.Seconds(), rate, sum.Created, sum.Updated, sum.Unchanged, sum.Rejected)
			}
			if sum.Rejected > 0 {
				fmt.Fprintf(w, "Rejected rows, with their line and reason, are in %s; correct them there and import that file.\n", rej.path)
			}
		}); err != nil {
			return err
		}
		if sum.Rejected > 0 {
			return errRejected{n: sum.Rejected, rejects: rej.path}
		}
		return nil
	})
}

type importReport struct {
	reminder.ImportSummary
	Rejects string  `json:"rejects,omitempty"`
	Seconds float64 `json:"seconds"`
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// rejectsFile writes rejected rows as CSV: "line" and "error" and then
// the row's own columns, so a corrected file imports as it is. It is
// created at the first rejected row.
type rejectsFile struct {
	path   string
	header []string
	f      *os.File
	w      *csv.Writer
}

func (r *rejectsFile) write(res reminder.RowResult) error {
	if r.w == nil {
		f, err := os.Create(r.path)
		if err != nil {
			return platform.Errorf(platform.CodeInvalid, "cannot write the rejects file: %v", errors.Unwrap(err))
		}
		r.f, r.w = f, csv.NewWriter(f)
		if err := r.w.Write(append([]string{"line", "error"}, r.header...)); err != nil {
			return err
		}
	}
	return r.w.Write(append([]string{strconv.Itoa(res.Line), res.Error.Error()}, res.Record...))
}

func (r *rejectsFile) close() error {
	if r.f == nil {
		return nil
	}
	r.w.Flush()
	err := errors.Join(r.w.Error(), r.f.Close())
	r.f, r.w = nil, nil
	return err
}

// importProgress shows how far an import is: a progress bar over the
// file's bytes on a terminal, a plain line every plainProgressEvery rows
// otherwise (a log, a pipe).
type importProgress struct {
	e        env
	bar      *progressbar.ProgressBar
	rows     int
	rejected int
}

func newImportProgress(e env, size int64) *importProgress {
	p := &importProgress{e: e}
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(size, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("Importing"),
			progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *importProgress) reader(r io.Reader) io.Reader {
	if p.bar == nil {
		return r
	}
	pr := progressbar.NewReader(r, p.bar)
	return &pr
}

func (p *importProgress) row(r reminder.RowResult) {
	p.rows++
	if r.Status == reminder.RowRejected {
		p.rejected++
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("Importing: %d rows, %d rejected", p.rows, p.rejected))
		return
	}
	if p.rows%plainProgressEvery == 0 {
		fmt.Fprintf(p.e.stderr, "%d rows done, %d rejected\n", p.rows, p.rejected)
	}
}

func (p *importProgress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
