package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
)

// Problem names the first entry at which the log stops being trustworthy.
type Problem struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Report is the result of Verify. HeadSeq, HeadHash and LastCheckpoint
// describe chain 1; Entries and Checkpoints count every chain.
type Report struct {
	OK             bool     `json:"ok"`
	Entries        int64    `json:"entries"`
	Chains         int      `json:"chains"` // chains with entries
	HeadSeq        int64    `json:"head_seq"`
	HeadHash       string   `json:"head_hash"`
	Checkpoints    int      `json:"checkpoints"`
	LastCheckpoint int64    `json:"last_checkpoint_seq"`
	Problem        *Problem `json:"problem,omitempty"`
}

// Verify walks every chain in order and checks every link, each chain's
// head row and every checkpoint signature. It stops at the first problem,
// which is the earliest entry of its chain that was edited, deleted or
// moved.
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
	fail := func(seq int64, format string, args ...any) (*Report, error) {
		rep.Problem = &Problem{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return rep, nil
	}
	// Check signatures first: a forged checkpoint must not vouch for
	// anything below.
	lastCheckpoint := map[int]int64{}
	for _, cp := range checkpoints {
		if reason := l.checkSignature(cp); reason != "" {
			return fail(cp.Seq, "checkpoint at entry %d: %s", cp.Seq, reason)
		}
		c := ChainOf(cp.Seq)
		lastCheckpoint[c] = max(lastCheckpoint[c], cp.Seq)
	}
	rep.LastCheckpoint = lastCheckpoint[1]
	// Entries outside every chain's range would escape the walk below.
	var stray int64
	if err := l.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE seq <= 0 OR seq > $1`,
		ChainBase(Chains+1)).Scan(&stray); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	if stray > 0 {
		return fail(0, "%d entries have a sequence number outside every chain: entries were moved", stray)
	}
	for chain := 1; chain <= Chains; chain++ {
		head, ok := heads[chain]
		if !ok {
			return fail(ChainBase(chain)+1, "the head of chain %d is missing", chain)
		}
		if p, err := l.verifyChain(ctx, chain, head.seq, head.hash, checkpoints, lastCheckpoint[chain], rep); err != nil || p != nil {
			if p != nil {
				rep.Problem = p
			}
			return rep, err
		}
		if chain == 1 {
			rep.HeadSeq, rep.HeadHash = head.seq, head.hash
		}
	}
	rep.OK = true
	return rep, nil
}

// verifyChain walks one chain; it returns the first problem, if any.
func (l *Log) verifyChain(ctx context.Context, chain int, headSeq int64, headHash string, checkpoints map[int64]Checkpoint,
	lastCheckpoint int64, rep *Report) (*Problem, error) {
	problem := func(seq int64, format string, args ...any) (*Problem, error) {
		return &Problem{Seq: seq, Reason: fmt.Sprintf(format, args...)}, nil
	}
	base := ChainBase(chain)
	rows, err := l.db.Read().QueryContext(ctx,
		`SELECT seq, at, actor, action, subject, agency_id, request_id, detail, prev_hash, hash FROM audit_entries
		 WHERE seq > $1 AND seq <= $2 ORDER BY seq`, base, ChainBase(chain+1))
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	var prevHash string
	want := base + 1
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("audit: verify: entry after %d: %w", want-1, err)
		}
		if e.Seq != want {
			return problem(want, "entry %d is missing (the next entry is %d): entries were deleted", want, e.Seq)
		}
		if e.PrevHash != prevHash {
			return problem(e.Seq, "entry %d does not follow entry %d (its prev_hash does not match): entries were reordered or entry %d was edited", e.Seq, e.Seq-1, e.Seq-1)
		}
		h, err := e.computeHash()
		if err != nil {
			return nil, fmt.Errorf("audit: verify: entry %d: %w", e.Seq, err)
		}
		if h != e.Hash {
			return problem(e.Seq, "entry %d has been edited (its contents do not match its hash)", e.Seq)
		}
		if cp, ok := checkpoints[e.Seq]; ok && cp.Hash != e.Hash {
			return problem(e.Seq, "entry %d differs from the signed checkpoint of the chain at that point", e.Seq)
		}
		prevHash = e.Hash
		rep.Entries++
		want++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	last := want - 1
	if last > base {
		rep.Chains++
	}
	if lastCheckpoint > last {
		return problem(last+1, "entries %d to %d were deleted (a signed checkpoint covers entry %d)", last+1, lastCheckpoint, lastCheckpoint)
	}
	if headSeq != last || headHash != prevHash {
		return problem(last+1, "the log ends at entry %d but its head records entry %d: newest entries were deleted or the head was altered", last, headSeq)
	}
	return nil, nil
}

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
