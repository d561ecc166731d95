package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Problem is one thing Verify found wrong: Seq is the first entry it makes
// untrustworthy (0 when it concerns no single entry), Reason says what was
// found and what it means.
type Problem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// maxProblems bounds a report: a wholesale rewrite would otherwise list
// every checkpoint.
const maxProblems = 100

// Report is the result of Verify. HeadSeq, HeadHash and LastCheckpoint
// describe chain 1; Entries, Checkpoints and Anchors count every chain.
// Problem is the first of Problems.
type Report struct {
	OK             bool   `json:"ok"`
	Entries        int64  `json:"entries"`
	Chains         int    `json:"chains"` // chains with entries
	HeadSeq        int64  `json:"head_seq"`
	HeadHash       string `json:"head_hash"`
	Checkpoints    int    `json:"checkpoints"`
	LastCheckpoint int64  `json:"last_checkpoint_seq"`
	// Anchors counts the checkpoints in the anchor store; Unanchored the
	// checkpoints in the database that are not there (normal only for the
	// newest, taken while the store was unreachable).
	Anchors    int       `json:"anchors"`
	Unanchored int       `json:"unanchored"`
	Problem    *Problem  `json:"problem,omitempty"`
	Problems   []Problem `json:"problems,omitempty"`
}

func (r *Report) add(seq int64, format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, Problem{Seq: seq, Reason: fmt.Sprintf(format, args...)})
	}
}

// signedPoint is a hash the chain must have at an entry, with where Verify
// learnt it, for messages.
type signedPoint struct {
	hash  string
	where string // "signed checkpoint" or "anchored checkpoint"
}

// Verify walks every chain in order and checks every link, each chain's
// head row, every checkpoint signature, the database's checkpoints against
// the anchor store (when the log has one) and the age of each chain's
// newest anchored checkpoint. Within a chain it reports the first broken
// link, which is the earliest entry that was edited, deleted or moved; it
// reports every chain and every checkpoint problem.
func (l *Log) Verify(ctx context.Context) (*Report, error) {
	rep := &Report{}
	heads := map[int]struct {
		seq  int64
		hash string
	}{}
	rows, err := l.db.Read().QueryContext(ctx, `SELECT id, seq, hash FROM audit_head ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: head: %w", err)
	}
	for rows.Next() {
		var id int
		var h struct {
			seq  int64
			hash string
		}
		if err := rows.Scan(&id, &h.seq, &h.hash); err != nil {
			rows.Close()
			return nil, fmt.Errorf("audit: verify: head: %w", err)
		}
		heads[id] = h
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: verify: head: %w", err)
	}
	checkpoints, err := l.loadCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	rep.Checkpoints = len(checkpoints)
	// Check signatures first: a forged checkpoint must not vouch for
	// anything below.
	points := map[int64]signedPoint{}
	newest := map[int]Checkpoint{} // per chain: what the age rule measures
	for _, seq := range slices.Sorted(maps.Keys(checkpoints)) {
		cp := checkpoints[seq]
		if reason := l.checkSignature(cp); reason != "" {
			rep.add(cp.Seq, "checkpoint at entry %d: %s", cp.Seq, reason)
			continue
		}
		points[seq] = signedPoint{cp.Hash, "signed checkpoint"}
		c := ChainOf(seq)
		if c == 1 {
			rep.LastCheckpoint = seq // ascending
		}
		if l.anchors == nil {
			newest[c] = cp
		}
	}
	if l.anchors != nil {
		newest, err = l.verifyAnchors(ctx, checkpoints, points, rep)
		if err != nil {
			return nil, err
		}
	}
	// Entries outside every chain's range would escape the walk below.
	var stray int64
	if err := l.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE seq <= 0 OR seq > $1`,
		ChainBase(Chains+1)).Scan(&stray); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	if stray > 0 {
		rep.add(0, "%d entries have a sequence number outside every chain: entries were moved", stray)
	}
	now := l.clock.Now()
	for chain := 1; chain <= Chains; chain++ {
		head, ok := heads[chain]
		if !ok {
			rep.add(ChainBase(chain)+1, "the head of chain %d is missing", chain)
			continue
		}
		w, err := l.verifyChain(ctx, chain, head.seq, head.hash, points, rep)
		if err != nil {
			return nil, err
		}
		if w.problem != nil {
			rep.add(w.problem.Seq, "%s", w.problem.Reason)
			continue
		}
		if chain == 1 {
			rep.HeadSeq, rep.HeadHash = head.seq, head.hash
		}
		l.checkAge(chain, w, newest[chain], now, rep)
	}
	if len(rep.Problems) > 0 {
		rep.Problem = &rep.Problems[0]
		return rep, nil
	}
	rep.OK = true
	return rep, nil
}

// verifyAnchors checks the anchor store against the database's
// checkpoints. Valid anchors join points (replacing a database checkpoint
// of the same entry: the anchor is the one outside the attacker's reach);
// it returns each chain's newest valid anchor.
func (l *Log) verifyAnchors(ctx context.Context, checkpoints map[int64]Checkpoint, points map[int64]signedPoint, rep *Report) (map[int]Checkpoint, error) {
	stored, err := l.anchors.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	rep.Anchors = len(stored.Checkpoints)
	for _, key := range stored.Unreadable {
		rep.add(0, "the anchor store holds %q, which names no checkpoint: the anchor store was written by something other than Portico", key)
	}
	anchored := map[int64]Checkpoint{}
	newest := map[int]Checkpoint{}
	for _, a := range stored.Checkpoints {
		if reason := l.checkSignature(a); reason != "" {
			rep.add(a.Seq, "anchored checkpoint at entry %d: %s", a.Seq, reason)
			continue
		}
		if prev, dup := anchored[a.Seq]; dup {
			rep.add(a.Seq, "the anchor store holds two different checkpoints of entry %d (hash %s signed %s, and hash %s signed %s): the entry was signed twice, so its checkpoint row was deleted or the chain rewritten at that point",
				a.Seq, short(prev.Hash), stamp(prev.At), short(a.Hash), stamp(a.At))
			continue
		}
		anchored[a.Seq] = a
		points[a.Seq] = signedPoint{a.Hash, "anchored checkpoint"}
		if c := ChainOf(a.Seq); a.Seq > newest[c].Seq {
			newest[c] = a
		}
	}
	type tally struct {
		db, anchors, missing int
		firstMissing         int64
	}
	chains := map[int]*tally{}
	at := func(c int) *tally {
		if chains[c] == nil {
			chains[c] = &tally{}
		}
		return chains[c]
	}
	for seq, cp := range checkpoints {
		at(ChainOf(seq)).db++
		if _, ok := anchored[seq]; !ok && l.checkSignature(cp) == "" {
			rep.Unanchored++
		}
	}
	for _, seq := range slices.Sorted(maps.Keys(anchored)) {
		a := anchored[seq]
		t := at(ChainOf(seq))
		t.anchors++
		cp, ok := checkpoints[seq]
		if !ok {
			if t.missing == 0 {
				t.firstMissing = seq
			}
			t.missing++
			continue
		}
		if cp.Hash != a.Hash || !cp.At.Equal(a.At) || cp.KeyID != a.KeyID || cp.Signature != a.Signature {
			rep.add(seq, "the checkpoint of entry %d does not match its anchor (database: hash %s signed %s; anchor: hash %s signed %s): the checkpoint was rewritten in the database",
				seq, short(cp.Hash), stamp(cp.At), short(a.Hash), stamp(a.At))
		}
	}
	for _, c := range slices.Sorted(maps.Keys(chains)) {
		if t := chains[c]; t.missing > 0 {
			rep.add(t.firstMissing, "chain %d: the database has fewer checkpoints than the anchor store (%d against %d); %d anchored checkpoints are missing from the database, the first at entry %d: checkpoints were deleted from the database",
				c, t.db, t.anchors, t.missing, t.firstMissing)
		}
	}
	return newest, nil
}

// walk is what verifyChain learnt about an intact chain.
type walk struct {
	problem *Problem
	last    int64     // the chain's last entry (ChainBase when empty)
	firstAt time.Time // when its first entry was written
}

// verifyChain walks one chain and returns its first problem, if any.
func (l *Log) verifyChain(ctx context.Context, chain int, headSeq int64, headHash string, points map[int64]signedPoint, rep *Report) (walk, error) {
	problem := func(seq int64, format string, args ...any) (walk, error) {
		return walk{problem: &Problem{Seq: seq, Reason: fmt.Sprintf(format, args...)}}, nil
	}
	base := ChainBase(chain)
	rows, err := l.db.Read().QueryContext(ctx,
		`SELECT seq, at, actor, action, subject, agency_id, request_id, detail, prev_hash, hash FROM audit_entries
		 WHERE seq > $1 AND seq <= $2 ORDER BY seq`, base, ChainBase(chain+1))
	if err != nil {
		return walk{}, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	var prevHash string
	var firstAt time.Time
	want := base + 1
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return walk{}, fmt.Errorf("audit: verify: entry after %d: %w", want-1, err)
		}
		if e.Seq != want {
			return problem(want, "entry %d is missing (the next entry is %d): entries were deleted", want, e.Seq)
		}
		if e.PrevHash != prevHash {
			return problem(e.Seq, "entry %d does not follow entry %d (its prev_hash does not match): entries were reordered or entry %d was edited", e.Seq, e.Seq-1, e.Seq-1)
		}
		h, err := e.computeHash()
		if err != nil {
			return walk{}, fmt.Errorf("audit: verify: entry %d: %w", e.Seq, err)
		}
		if h != e.Hash {
			return problem(e.Seq, "entry %d has been edited (its contents do not match its hash)", e.Seq)
		}
		if p, ok := points[e.Seq]; ok && p.hash != e.Hash {
			return problem(e.Seq, "entry %d differs from the %s of the chain at that point (the log has hash %s, the checkpoint %s): entries up to %d were edited, reordered or replaced and the chain rehashed",
				e.Seq, p.where, short(e.Hash), short(p.hash), e.Seq)
		}
		if e.Seq == base+1 {
			firstAt = e.At
		}
		prevHash = e.Hash
		rep.Entries++
		want++
	}
	if err := rows.Err(); err != nil {
		return walk{}, fmt.Errorf("audit: verify: %w", err)
	}
	last := want - 1
	if last > base {
		rep.Chains++
	}
	var lastPoint int64
	for seq := range points {
		if ChainOf(seq) == chain {
			lastPoint = max(lastPoint, seq)
		}
	}
	if lastPoint > last {
		verb := "were"
		if last+1 == lastPoint {
			verb = "was"
		}
		return problem(last+1, "%s %s deleted (the log ends at entry %d, but the %s of entry %d shows it existed)",
			span(last+1, lastPoint), verb, last, points[lastPoint].where, lastPoint)
	}
	if headSeq != last || headHash != prevHash {
		return problem(last+1, "the log ends at entry %d but its head records entry %d: newest entries were deleted or the head was altered", last, headSeq)
	}
	return walk{last: last, firstAt: firstAt}, nil
}

// checkAge fails a chain whose newest anchored checkpoint (newest; the
// newest signed one without an anchor store) is older than the limit while
// entries follow it. Checkpoints are taken every minute, so this means
// they stopped, and someone who can write to the database could have
// deleted or rewritten the entries since without trace. The checkpoint's
// time is signed; the entries' times are not, so a chain never
// checkpointed is judged by its first entry's time, the best there is.
func (l *Log) checkAge(chain int, w walk, newest Checkpoint, now time.Time, rep *Report) {
	base := ChainBase(chain)
	if w.last == base || w.last <= newest.Seq {
		return // empty, or covered up to its last entry
	}
	if newest.Seq == 0 {
		if age := now.Sub(w.firstAt); age > l.maxAge {
			rep.add(base+1, "chain %d has no anchored checkpoint for %s although the first was written %s ago, more than the limit of %s: checkpoints are not being taken or anchored, so these entries could have been changed without trace",
				chain, span(base+1, w.last), age.Round(time.Second), l.maxAge)
		}
		return
	}
	if age := now.Sub(newest.At); age > l.maxAge {
		rep.add(newest.Seq+1, "chain %d: the newest anchored checkpoint (entry %d, signed %s) is %s old, more than the limit of %s, while %s came after it: checkpoints stopped, so entries after it could have been deleted or rewritten without trace",
			chain, newest.Seq, stamp(newest.At), age.Round(time.Second), l.maxAge, span(newest.Seq+1, w.last))
	}
}

// span names entries from to to for messages.
func span(from, to int64) string {
	if from == to {
		return fmt.Sprintf("entry %d", from)
	}
	return fmt.Sprintf("entries %d to %d", from, to)
}

// short abbreviates a hash for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (l *Log) checkSignature(cp Checkpoint) string {
	if l.signer == nil {
		return "cannot be checked: no verification key"
	}
	if cp.KeyID != l.signer.keyID {
		return fmt.Sprintf("signed by unknown key %q", cp.KeyID)
	}
	sig, err := base64.RawURLEncoding.DecodeString(cp.Signature)
	if err != nil || !ed25519.Verify(l.signer.PublicKey(), checkpointMessage(cp.Seq, cp.Hash, cp.At), sig) {
		return "signature is invalid"
	}
	return ""
}

func (l *Log) loadCheckpoints(ctx context.Context) (map[int64]Checkpoint, error) {
	rows, err := l.db.Read().QueryContext(ctx, `SELECT seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: checkpoints: %w", err)
	}
	defer rows.Close()
	out := map[int64]Checkpoint{}
	for rows.Next() {
		var cp Checkpoint
		if err := rows.Scan(&cp.Seq, &cp.Hash, &cp.At, &cp.KeyID, &cp.Signature); err != nil {
			return nil, fmt.Errorf("audit: verify: checkpoints: %w", err)
		}
		cp.At = cp.At.UTC()
		out[cp.Seq] = cp
	}
	return out, rows.Err()
}
