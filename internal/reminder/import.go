package reminder

import (
	"context"
	"errors"
	"io"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// ImportDirectory is what an import needs of other blocks; internal/app
// adapts the identity, tenancy and OpenID Provider blocks to it.
type ImportDirectory interface {
	// Person returns the account id of the person a row names (their
	// sign-in email or their account id); CodeNotFound when no active
	// account matches.
	Person(ctx context.Context, person string) (accountID string, err error)
	// AgencyExists reports whether the agency exists.
	AgencyExists(ctx context.Context, agency string) (bool, error)
	// ClientAgency returns the agency an agency system's OAuth client
	// belongs to ("" for none); an unknown or disabled client is an
	// error.
	ClientAgency(ctx context.Context, clientID string) (string, error)
}

// Importer loads amounts agencies say people owe as obligations (Set, so
// their reminders are planned), from a CSV file (`portico obligations
// import`) or the API (POST /api/v1/obligations).
//
// Contract:
//   - A row is an obligation of the agency keyed by its reference and due
//     date (Parsed.Source): loading it again changes nothing; loading it
//     with another amount or title updates it; the same reference and due
//     date for another person is refused.
//   - A bad row (unknown person, bad amount or date, missing fields, a
//     duplicate of an earlier row of the same import) is reported with its
//     line and reason and never stops the good rows, which are committed
//     in batches of BatchSize, each in one transaction.
//   - A dry run checks every row as a real run would (the people, the
//     conflicts) and commits nothing.
//   - One audit entry per import ("obligation.import", with the counts),
//     not one per row.
type Importer struct {
	svc   *Service
	dir   ImportDirectory
	batch int
}

// DefaultImportBatch is how many good rows one transaction commits.
const DefaultImportBatch = 500

// NewImporter returns an importer into svc. batch <= 0 means
// DefaultImportBatch.
func NewImporter(svc *Service, dir ImportDirectory, batch int) (*Importer, error) {
	if err := platform.Required("reminder import",
		platform.Dep{Name: "reminder block", Missing: svc == nil},
		platform.Dep{Name: "directory", Missing: dir == nil}); err != nil {
		return nil, err
	}
	if batch <= 0 {
		batch = DefaultImportBatch
	}
	return &Importer{svc: svc, dir: dir, batch: batch}, nil
}

// Row outcomes.
const (
	RowCreated   = "created"
	RowUpdated   = "updated"
	RowUnchanged = "unchanged"
	RowValid     = "valid" // a dry run's good row
	RowRejected  = "rejected"
)

// RowResult is what became of one row.
type RowResult struct {
	Line         int       `json:"line"`
	Status       string    `json:"status"`
	ObligationID string    `json:"obligation_id,omitempty"`
	Error        *RowError `json:"error,omitempty"`
	Record       []string  `json:"-"`
}

// ImportSummary counts what an import did.
type ImportSummary struct {
	Agency    string `json:"agency"`
	DryRun    bool   `json:"dry_run"`
	Rows      int    `json:"rows"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	Valid     int    `json:"valid"`
	Rejected  int    `json:"rejected"`
}

func (s *ImportSummary) count(r RowResult) {
	s.Rows++
	switch r.Status {
	case RowCreated:
		s.Created++
	case RowUpdated:
		s.Updated++
	case RowUnchanged:
		s.Unchanged++
	case RowValid:
		s.Valid++
	case RowRejected:
		s.Rejected++
	}
}

// RowSource yields an import's rows in order, io.EOF after the last.
// *CSVRows is one; Lines another.
type RowSource interface {
	Next() (ImportLine, error)
}

// Lines is a RowSource over rows in memory (an API request), numbered
// from 0.
type Lines struct {
	Rows []ImportRow
	i    int
}

// Next implements RowSource.
func (l *Lines) Next() (ImportLine, error) {
	if l.i >= len(l.Rows) {
		return ImportLine{}, io.EOF
	}
	l.i++
	return ImportLine{Line: l.i - 1, Row: l.Rows[l.i-1]}, nil
}

// ImportOptions tunes one import.
type ImportOptions struct {
	DryRun bool
	// Name is where the rows came from (the file name), for the audit
	// entry.
	Name string
	// OnRow, when set, is told of every row once its fate is final (a
	// good row after its batch commits), in order within a batch;
	// returning an error stops the import.
	OnRow func(RowResult) error
}

var errImportForbidden = platform.Errorf(platform.CodeForbidden, "only the operator, or an agency system's own client of that agency, loads amounts owed")

// Import loads src's rows as obligations owed to agency, for actor: the
// operator (the CLI) for any agency, or an agency system's client
// (client credentials) for its own agency. It returns the counts; an
// error means the import stopped (the rows committed before it stay, and
// the audit entry says how far it got).
func (im *Importer) Import(ctx context.Context, actor platform.Actor, agency string, src RowSource, opt ImportOptions) (ImportSummary, error) {
	sum := ImportSummary{Agency: agency, DryRun: opt.DryRun}
	switch {
	case actor.Kind == platform.ActorOperator:
	case actor.Kind == platform.ActorClient && actor.ID != "" && actor.Client == "":
		own, err := im.dir.ClientAgency(ctx, actor.ID)
		if err != nil {
			return sum, err
		}
		if own == "" || own != agency {
			return sum, errImportForbidden
		}
	default:
		return sum, errImportForbidden
	}
	ok, err := im.dir.AgencyExists(ctx, agency)
	if err != nil {
		return sum, err
	}
	if !ok {
		return sum, platform.Errorf(platform.CodeNotFound, "no agency %q", agency)
	}
	run := importRun{im: im, agency: agency, opt: opt, sum: &sum, seen: map[string]int{}, people: map[string]string{}}
	err = run.all(ctx, src)
	detail := map[string]any{"name": opt.Name, "dry_run": opt.DryRun, "rows": sum.Rows, "created": sum.Created, "updated": sum.Updated,
		"unchanged": sum.Unchanged, "valid": sum.Valid, "rejected": sum.Rejected}
	if err != nil {
		detail["stopped"] = err.Error()
	}
	if _, aerr := im.svc.audit.Write(platform.WithActor(context.WithoutCancel(ctx), actor),
		audit.Record{Action: "obligation.import", Subject: "agency:" + agency, AgencyID: agency, Detail: detail}); aerr != nil {
		return sum, errors.Join(err, aerr)
	}
	return sum, err
}

// ForClient is Import for the API: the agency is the calling client's.
func (im *Importer) ForClient(ctx context.Context, actor platform.Actor, src RowSource, opt ImportOptions) (ImportSummary, error) {
	if actor.Kind != platform.ActorClient || actor.ID == "" || actor.Client != "" {
		return ImportSummary{}, errImportForbidden
	}
	agency, err := im.dir.ClientAgency(ctx, actor.ID)
	if err != nil {
		return ImportSummary{}, err
	}
	if agency == "" {
		return ImportSummary{}, platform.Errorf(platform.CodeForbidden, "this client belongs to no agency; register it with portico oidc client add --agency")
	}
	return im.Import(ctx, actor, agency, src, opt)
}

type importRun struct {
	im     *Importer
	agency string
	opt    ImportOptions
	sum    *ImportSummary
	seen   map[string]int    // source → first line, for duplicates within the import
	people map[string]string // person → account id, a bounded cache
}

type goodRow struct {
	line    ImportLine
	account string
	ob      Obligation
}

func (r *importRun) all(ctx context.Context, src RowSource) error {
	var batch []goodRow
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		l, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		g, rerr, err := r.check(ctx, l)
		if err != nil {
			return err
		}
		if rerr != nil {
			if err := r.emit(RowResult{Line: l.Line, Status: RowRejected, Error: rerr, Record: l.Record}); err != nil {
				return err
			}
			continue
		}
		batch = append(batch, g)
		if len(batch) >= r.im.batch {
			if err := r.flush(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return r.flush(ctx, batch)
}

func (r *importRun) emit(res RowResult) error {
	r.sum.count(res)
	if r.opt.OnRow != nil {
		return r.opt.OnRow(res)
	}
	return nil
}

// check finds everything wrong with a row that can be found before its
// batch's transaction: its fields, its person, a duplicate within the
// import. It returns a *RowError for a bad row, an error to stop on.
func (r *importRun) check(ctx context.Context, l ImportLine) (goodRow, *RowError, error) {
	if l.Err != nil {
		return goodRow{}, l.Err, nil
	}
	p, rerr := ParseRow(l.Row)
	if rerr != nil {
		return goodRow{}, rerr, nil
	}
	if first, dup := r.seen[p.Source(r.agency)]; dup {
		return goodRow{}, rowErr("reference", "duplicate: line %d has the same reference and due date", first), nil
	}
	account, ok := r.people[p.Person]
	if !ok {
		var err error
		account, err = r.im.dir.Person(ctx, p.Person)
		switch {
		case platform.ErrorCode(err) == platform.CodeNotFound:
			account = ""
		case err != nil:
			return goodRow{}, nil, err
		}
		if len(r.people) >= 10_000 {
			clear(r.people)
		}
		r.people[p.Person] = account
	}
	if account == "" {
		return goodRow{}, rowErr("person", "no Portico account has the email or id %q", clip(p.Person)), nil
	}
	m := p.Amount
	o := Obligation{AccountID: account, AgencyID: r.agency, Kind: p.Kind, Source: p.Source(r.agency), Title: p.Title, Amount: &m,
		Reference: p.Reference, Due: p.Due, Schedule: DefaultSchedule}
	if err := o.validate(); err != nil {
		var pe *platform.Error
		if !errors.As(err, &pe) {
			return goodRow{}, nil, err
		}
		return goodRow{}, &RowError{Field: pe.Field, Reason: pe.Message}, nil
	}
	r.seen[p.Source(r.agency)] = l.Line
	return goodRow{line: l, account: account, ob: o}, nil, nil
}
