// Package audit keeps Portico's append-only, tamper-evident audit log.
//
// Every entry carries the SHA-256 hash of the previous entry, so editing,
// deleting or reordering any entry breaks the chain from that point on.
// A checkpoint signs the head (sequence number and hash) with an Ed25519
// key held outside the database, and is appended to an anchor store
// outside the database too (anchor.go). Someone who can write to the
// database but not to the anchor store cannot rewrite or drop anything up
// to the newest anchored checkpoint without Verify noticing, even by
// deleting checkpoint rows or holding the key. Checkpoints are taken every
// CheckpointEvery entries of a chain and every minute, and Verify fails
// when the newest one is older than MaxCheckpointAge while entries follow
// it, so what can be hidden is bounded (docs/operations.md).
//
// Contract: Append is called inside the transaction of the change it
// records, so the entry commits if and only if the change does.
//
// Chains: the log is Chains hash chains (migration 00010, ADR 4). Each has
// a head row that serialises its appends (a row lock on PostgreSQL). On
// PostgreSQL an append takes the first chain whose head no other
// transaction holds, so up to Chains audited transactions commit in
// parallel; SQLite has a single writer anyway and uses chain 1 only.
// Chain c numbers its entries from ChainBase(c) + 1, so seq is unique
// across chains and names its chain; within a chain seq has no gaps. Order
// across chains is given by the entries' times, not their seq.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/groupcommit"
)

// Entry is one audited event: who did what to which subject.
type Entry struct {
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`   // platform.Actor.String()
	Action    string          `json:"action"`  // e.g. "agency.create", "profile.read"
	Subject   string          `json:"subject"` // what was touched, e.g. "citizen:01H…"
	AgencyID  string          `json:"agency_id,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
	Detail    json.RawMessage `json:"detail"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`

	// person is Record.Person, stored in person_id to find the entry by
	// (ForPerson); it is not part of the hashed entry (ADR 35).
	person string
}

// hashInput is the canonical form that is hashed. Field order is fixed by
// the struct; times are UTC with microsecond precision, which both engines
// store exactly.
type hashInput struct {
	Seq       int64           `json:"seq"`
	At        string          `json:"at"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Subject   string          `json:"subject"`
	AgencyID  string          `json:"agency_id"`
	RequestID string          `json:"request_id"`
	Detail    json.RawMessage `json:"detail"`
	PrevHash  string          `json:"prev_hash"`
}

func (e *Entry) computeHash() (string, error) {
	b, err := json.Marshal(hashInput{
		Seq: e.Seq, At: e.At.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Action: e.Action,
		Subject: e.Subject, AgencyID: e.AgencyID, RequestID: e.RequestID, Detail: e.Detail, PrevHash: e.PrevHash,
	})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Log is the audit log.
type Log struct {
	db      *storage.DB
	clock   platform.Clock
	signer  *Signer
	anchors *Anchors
	every   int64
	maxAge  time.Duration
	// due wakes RunCheckpoints when a chain reaches a multiple of every.
	due chan struct{}

	mu       sync.Mutex
	anchored map[int]int64 // chain → newest checkpoint this process anchored

	writes *groupcommit.Committer[*Entry] // Write's group commit (group.go)
}

// Defaults of the checkpoint policy.
const (
	DefaultCheckpointEvery  = 1000
	DefaultMaxCheckpointAge = time.Hour
)

// Option adjusts New.
type Option func(*Log)

// WithAnchors appends every checkpoint to a and makes Verify compare the
// database with it. Checkpoint refuses to run without an anchor store.
func WithAnchors(a *Anchors) Option { return func(l *Log) { l.anchors = a } }

// WithCheckpointEvery asks for a checkpoint whenever a chain has grown by
// n entries (n <= 0: DefaultCheckpointEvery). It takes effect in a process
// that runs RunCheckpoints.
func WithCheckpointEvery(n int) Option {
	return func(l *Log) {
		if n > 0 {
			l.every = int64(n)
		}
	}
}

// WithMaxCheckpointAge is how old the newest anchored checkpoint of a
// chain may be while entries follow it before Verify fails (d <= 0:
// DefaultMaxCheckpointAge).
func WithMaxCheckpointAge(d time.Duration) Option {
	return func(l *Log) {
		if d > 0 {
			l.maxAge = d
		}
	}
}

// New returns the log over db. signer may be nil for a process that only
// appends (checkpoints and verification of signatures then report an error).
func New(db *storage.DB, clock platform.Clock, signer *Signer, opts ...Option) *Log {
	l := &Log{db: db, clock: clock, signer: signer, every: DefaultCheckpointEvery, maxAge: DefaultMaxCheckpointAge,
		due: make(chan struct{}, 1), anchored: map[int]int64{}}
	committers := 1 // SQLite has one writer
	if db.Dialect == storage.Postgres {
		// Each committer's transaction holds a chain (reserve's SKIP
		// LOCKED); half of them stay free for Append in other
		// transactions.
		committers = Chains / 2
	}
	l.writes = groupcommit.New(db, l.appendEntries, groupcommit.Options{Name: "audit: write", Committers: committers})
	for _, o := range opts {
		o(l)
	}
	return l
}

// Record is what a block asks to be audited. Actor and request id come from
// ctx when not given.
type Record struct {
	Action   string
	Subject  string
	AgencyID string
	Detail   any // marshalled to JSON; nil means {}
	// Person is the account id of the citizen whose data the entry
	// records a use or read of by someone else (a plug-in call for them,
	// staff opening their case), or "". ForPerson finds entries by it
	// ("Who has used my data"). It is stored beside the entry, outside
	// the hashed fields: an index, not a fact of the chain.
	Person string
}

// Append writes r in tx and returns the stored entry.
func (l *Log) Append(ctx context.Context, tx *sql.Tx, r Record) (Entry, error) {
	e, err := l.entry(ctx, r)
	if err != nil {
		return Entry{}, err
	}
	if err := l.appendEntries(ctx, tx, []*Entry{&e}); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// entry is the entry r describes, before it has a place in a chain (seq,
// prev_hash and hash are set by appendEntries).
func (l *Log) entry(ctx context.Context, r Record) (Entry, error) {
	if r.Action == "" {
		return Entry{}, fmt.Errorf("audit: append: empty action")
	}
	detail := json.RawMessage("{}")
	if r.Detail != nil {
		b, err := json.Marshal(r.Detail)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append %s: detail: %w", r.Action, err)
		}
		detail = b
	}
	actor := platform.ActorFrom(ctx)
	if actor.Client != "" {
		// A person acting through an app: the entry names the app too.
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(detail, &fields); err != nil {
			return Entry{}, fmt.Errorf("audit: append %s: detail is not an object: %w", r.Action, err)
		}
		if fields == nil {
			fields = map[string]json.RawMessage{}
		}
		client, _ := json.Marshal(actor.Client)
		fields["via_client"] = client
		b, err := json.Marshal(fields)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append %s: detail: %w", r.Action, err)
		}
		detail = b
	}
	return Entry{
		At:        l.clock.Now().UTC().Truncate(time.Microsecond),
		Actor:     actor.String(),
		Action:    r.Action,
		Subject:   r.Subject,
		AgencyID:  r.AgencyID,
		RequestID: platform.RequestIDFrom(ctx),
		Detail:    detail,
		person:    r.Person,
	}, nil
}

// appendEntries chains es onto one chain in tx, in order: one head
// reservation and one head update for all of them, so a batch of entries
// (Write's group commit) costs the chain head once.
func (l *Log) appendEntries(ctx context.Context, tx *sql.Tx, es []*Entry) error {
	chain, last, prev, err := l.reserve(ctx, tx, len(es))
	if err != nil {
		return fmt.Errorf("audit: append %s: head: %w", es[0].Action, err)
	}
	first := last - int64(len(es)) + 1
	for i, e := range es {
		e.Seq, e.PrevHash = first+int64(i), prev
		h, err := e.computeHash()
		if err != nil {
			return fmt.Errorf("audit: append %s: %w", e.Action, err)
		}
		e.Hash, prev = h, h
	}
	if l.db.Dialect == storage.Postgres {
		if err := l.insertPostgres(ctx, tx, chain, es); err != nil {
			return err
		}
		l.checkpointDue(chain, first, last)
		return nil
	}
	for _, e := range es {
		if _, err := l.db.ExecHot(ctx, tx,
			`INSERT INTO audit_entries (seq, at, actor, action, subject, agency_id, request_id, detail, prev_hash, hash, person_id)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.Seq, e.At, e.Actor, e.Action, e.Subject, e.AgencyID, e.RequestID, string(e.Detail), e.PrevHash, e.Hash, personID(e.person)); err != nil {
			return fmt.Errorf("audit: append %s: %w", e.Action, err)
		}
	}
	// The reservation only read the head (reserve): seq and hash move
	// together here, in the same transaction.
	if _, err := l.db.ExecHot(ctx, tx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = $3`, last, prev, chain); err != nil {
		return fmt.Errorf("audit: append %s: head: %w", es[len(es)-1].Action, err)
	}
	l.checkpointDue(chain, first, last)
	return nil
}

// insertRowsPerStatement bounds a multi-row INSERT on PostgreSQL (11
// parameters a row; the statement texts, one per row count, stay few).
const insertRowsPerStatement = 32

// insertPostgres stores es (already numbered and hashed) and moves the
// chain's head to the last of them. On PostgreSQL every statement is a
// round trip to the server, and a group commit of n entries used to send
// n + 2 of them between BEGIN and COMMIT (the reservation, one INSERT per
// entry, the head update): the client-credentials grant profile (issue
// 14) waited on those. Now the entries go in multi-row INSERTs of up to
// insertRowsPerStatement, and the head update rides with the last one as
// a data-modifying WITH, which PostgreSQL runs to completion whether or
// not the outer statement reads it: 3 round trips for up to 32 entries.
// SQLite keeps one prepared INSERT per entry: there a statement is a
// function call, and multi-row statements measured slower (ADR 49).
func (l *Log) insertPostgres(ctx context.Context, tx *sql.Tx, chain int, es []*Entry) error {
	for len(es) > 0 {
		n := min(len(es), insertRowsPerStatement)
		rows, rest := es[:n], es[n:]
		var q strings.Builder
		args := make([]any, 0, n*11+2)
		if len(rest) == 0 {
			q.WriteString("WITH entries AS (")
		}
		q.WriteString("INSERT INTO audit_entries (seq, at, actor, action, subject, agency_id, request_id, detail, prev_hash, hash, person_id) VALUES ")
		for i, e := range rows {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(")
			for j := range 11 {
				if j > 0 {
					q.WriteString(", ")
				}
				q.WriteString("$" + strconv.Itoa(len(args)+j+1))
			}
			q.WriteString(")")
			args = append(args, e.Seq, e.At, e.Actor, e.Action, e.Subject, e.AgencyID, e.RequestID, string(e.Detail), e.PrevHash, e.Hash, personID(e.person))
		}
		if len(rest) == 0 {
			last := rows[len(rows)-1]
			q.WriteString(") UPDATE audit_head SET hash = $" + strconv.Itoa(len(args)+1) + " WHERE id = $" + strconv.Itoa(len(args)+2))
			args = append(args, last.Hash, chain)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("audit: append %s: %w", rows[0].Action, err)
		}
		es = rest
	}
	return nil
}

// checkpointDue wakes RunCheckpoints when entries first..last of chain
// reached a multiple of every.
func (l *Log) checkpointDue(chain int, first, last int64) {
	if base := ChainBase(chain); (last-base)/l.every != (first-1-base)/l.every {
		// The chain reached a multiple of every. Before commit is early
		// enough: the checkpoint locks the head, so it waits for this
		// transaction and signs what it committed.
		select {
		case l.due <- struct{}{}:
		default: // a checkpoint is already due
		}
	}
}

// Chains is the number of hash chains (rows of audit_head).
const Chains = 8

// chainBits: chain c's entries are numbered from ChainBase(c) + 1.
const chainBits = 48

// ChainBase is the seq before chain c's first entry.
func ChainBase(c int) int64 { return int64(c-1) << chainBits }

// ChainOf returns the chain an entry's seq belongs to.
func ChainOf(seq int64) int { return int(seq>>chainBits) + 1 }

// reserve takes a chain's head for tx and n entries: it advances the
// chain's seq by n and returns the chain, its new seq (the last of the n
// numbers) and the hash the first entry links to. On PostgreSQL the
// UPDATE locks the head row until tx ends, so appends to one chain queue
// instead of forking it; on SQLite the transaction's write lock does, and
// the head is only read here (appendEntries moves seq and hash at once).
func (l *Log) reserve(ctx context.Context, tx *sql.Tx, n int) (chain int, last int64, prev string, err error) {
	if l.db.Dialect == storage.Postgres {
		// The first head no other transaction holds. A head this
		// transaction already holds is never skipped, so a second append
		// in one transaction never waits here.
		err := l.db.QueryRowHot(ctx, tx, `UPDATE audit_head SET seq = seq + $1 WHERE id =
			(SELECT id FROM audit_head ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, seq, hash`, n).Scan(&chain, &last, &prev)
		if err == nil {
			return chain, last, prev, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, 0, "", err
		}
		// Every head is taken: queue on one, spreading the waiters.
		chain = 1 + rand.IntN(Chains)
		err = l.db.QueryRowHot(ctx, tx, `UPDATE audit_head SET seq = seq + $1 WHERE id = $2 RETURNING seq, hash`, n, chain).Scan(&last, &prev)
		return chain, last, prev, err
	}
	// SQLite: every write transaction is BEGIN IMMEDIATE (storage.Open's
	// _txlock), so tx already holds the database's only write lock and
	// nobody can move the head before tx ends. A read is enough here;
	// appendEntries writes seq and hash in one UPDATE at the end. (An
	// UPDATE … RETURNING here cost as much as the entry's INSERT and the
	// head's UPDATE together: docs/performance.md, session 12.)
	var seq int64
	if err := l.db.QueryRowHot(ctx, tx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &prev); err != nil {
		return 0, 0, "", err
	}
	return 1, seq + int64(n), prev, nil
}

// Filter narrows List.
type Filter struct {
	Subject  string
	AgencyID string
	AfterSeq int64
	Limit    int // default 100, max 1000
}

// List returns entries in sequence order.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	q := `SELECT seq, at, actor, action, subject, agency_id, request_id, detail, prev_hash, hash FROM audit_entries WHERE seq > $1`
	args := []any{f.AfterSeq}
	if f.Subject != "" {
		args = append(args, f.Subject)
		q += fmt.Sprintf(" AND subject = $%d", len(args))
	}
	if f.AgencyID != "" {
		args = append(args, f.AgencyID)
		q += fmt.Sprintf(" AND agency_id = $%d", len(args))
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(" ORDER BY seq LIMIT $%d", len(args))
	rows, err := l.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("audit: list: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// personID is the person_id column's value: NULL for no person.
func personID(p string) any {
	if p == "" {
		return nil
	}
	return p
}

// ForPerson returns the entries that name person (Record.Person), newest
// first (by seq), at most limit (default 50, max 500) of those with seq
// below before (before <= 0: from the newest). The caller authorises the
// read and audits it. It is an index search bounded by the person's own
// entries (audit_entries_person).
func (l *Log) ForPerson(ctx context.Context, person string, before int64, limit int) ([]Entry, error) {
	if person == "" {
		return nil, nil
	}
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	q := `SELECT seq, at, actor, action, subject, agency_id, request_id, detail, prev_hash, hash FROM audit_entries WHERE person_id = $1`
	args := []any{person}
	if before > 0 {
		q += ` AND seq < $2 ORDER BY seq DESC LIMIT $3`
		args = append(args, before, limit)
	} else {
		q += ` ORDER BY seq DESC LIMIT $2`
		args = append(args, limit)
	}
	rows, err := l.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: for person: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("audit: for person: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanEntry(rows *sql.Rows) (Entry, error) {
	var e Entry
	var detail string
	err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.Subject, &e.AgencyID, &e.RequestID, &detail, &e.PrevHash, &e.Hash)
	e.At = e.At.UTC()
	e.Detail = json.RawMessage(detail)
	return e, err
}
