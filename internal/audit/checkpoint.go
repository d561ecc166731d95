package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/storage"
)

// Signer signs checkpoints with an Ed25519 key kept outside the database.
type Signer struct {
	key   ed25519.PrivateKey
	keyID string
}

// KeyID names the key: the first 16 hex digits of SHA-256 of its public key.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKey returns the verification key.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// NewSigner returns a Signer for key (the process's audit key,
// secrets.OpenKeys).
func NewSigner(key ed25519.PrivateKey) *Signer { return newSigner(key) }

// SignedBy returns the key ids of the newest checkpoints in db, newest
// first (at most one per chain): the key that signs the log now. It lets
// a process about to record its keys for the first time (an upgraded
// installation) refuse an audit key that did not sign the log.
func SignedBy(ctx context.Context, db *storage.DB) ([]string, error) {
	rows, err := db.Read().QueryContext(ctx, `SELECT key_id FROM audit_checkpoints ORDER BY at DESC, seq DESC LIMIT $1`, Chains)
	if err != nil {
		return nil, fmt.Errorf("audit: read checkpoint keys: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func newSigner(key ed25519.PrivateKey) *Signer {
	sum := sha256.Sum256(key.Public().(ed25519.PublicKey))
	return &Signer{key: key, keyID: hex.EncodeToString(sum[:8])}
}

// LoadOrCreateSigner reads the PKCS#8 PEM Ed25519 key at path, creating it
// (mode 0600) when the file does not exist.
func LoadOrCreateSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("audit: generate key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("audit: encode key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("audit: key directory: %w", err)
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		// O_EXCL: if another process created the key first, use theirs.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateSigner(path)
		}
		if err != nil {
			return nil, fmt.Errorf("audit: write key: %w", err)
		}
		if _, err := f.Write(pemBytes); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: write key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("audit: write key: %w", err)
		}
		return newSigner(key), nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("audit: key file %s is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: key file %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit: key file %s is not an Ed25519 key", path)
	}
	return newSigner(key), nil
}

// Checkpoint is a signed statement of the chain's head.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	At        time.Time `json:"at"`
	KeyID     string    `json:"key_id"`
	Signature string    `json:"signature"`
}

func checkpointMessage(seq int64, hash string, at time.Time) []byte {
	return []byte("portico-audit-checkpoint-v1\n" + strconv.FormatInt(seq, 10) + "\n" + hash + "\n" + at.UTC().Format(time.RFC3339Nano))
}

// Checkpoint signs the head of every chain that has entries, stores the
// signature and appends it to the anchor store; a chain whose head has not
// moved keeps its existing checkpoint (anchored again if this process has
// not anchored it yet, which repairs an anchor lost to a crash between the
// commit and the write). It returns chain 1's checkpoint.
//
// The anchor is written after the checkpoint row commits: an anchor never
// names a checkpoint the database does not have, while a checkpoint row
// without its anchor is harmless (it vouches for nothing Verify relies on).
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.signer == nil {
		return Checkpoint{}, errors.New("audit: checkpoint: no signing key")
	}
	if l.anchors == nil {
		return Checkpoint{}, errors.New("audit: checkpoint: no anchor store")
	}
	var first Checkpoint
	for chain := 1; chain <= Chains; chain++ {
		var cp Checkpoint
		// One transaction per chain: it holds one head at a time, like an
		// append, so it cannot deadlock with appends.
		err := l.db.InTx(ctx, func(tx *sql.Tx) error {
			// Lock the head so the checkpoint matches a committed chain.
			if err := tx.QueryRowContext(ctx, `UPDATE audit_head SET seq = seq WHERE id = $1 RETURNING seq, hash`, chain).Scan(&cp.Seq, &cp.Hash); err != nil {
				return err
			}
			if cp.Seq == ChainBase(chain) {
				cp = Checkpoint{}
				return nil // an empty chain
			}
			err := tx.QueryRowContext(ctx, `SELECT hash, at, key_id, signature FROM audit_checkpoints WHERE seq = $1`, cp.Seq).
				Scan(&cp.Hash, &cp.At, &cp.KeyID, &cp.Signature)
			if err == nil {
				cp.At = cp.At.UTC()
				return nil // the head has not moved since it was signed
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			cp.At = l.clock.Now().UTC().Truncate(time.Microsecond)
			cp.KeyID = l.signer.keyID
			cp.Signature = base64.RawURLEncoding.EncodeToString(ed25519.Sign(l.signer.key, checkpointMessage(cp.Seq, cp.Hash, cp.At)))
			_, err = tx.ExecContext(ctx,
				`INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5)`,
				cp.Seq, cp.Hash, cp.At, cp.KeyID, cp.Signature)
			return err
		})
		if err != nil {
			return Checkpoint{}, fmt.Errorf("audit: checkpoint chain %d: %w", chain, err)
		}
		if cp.Seq != 0 {
			if err := l.anchor(ctx, chain, cp); err != nil {
				return Checkpoint{}, err
			}
		}
		if chain == 1 {
			first = cp
		}
	}
	return first, nil
}

// anchor appends cp to the anchor store unless this process already did.
func (l *Log) anchor(ctx context.Context, chain int, cp Checkpoint) error {
	l.mu.Lock()
	done := l.anchored[chain] == cp.Seq
	l.mu.Unlock()
	if done {
		return nil
	}
	if err := l.anchors.Put(ctx, cp); err != nil {
		return err
	}
	l.mu.Lock()
	l.anchored[chain] = max(l.anchored[chain], cp.Seq)
	l.mu.Unlock()
	return nil
}

// RunCheckpoints takes a checkpoint whenever an append in this process
// brings a chain to a multiple of the CheckpointEvery setting, until ctx
// ends. Every process that appends runs it (web replicas too), so a burst
// of entries is anchored without waiting for the minute's periodic job.
// Failures are logged; the periodic job retries within a minute.
func (l *Log) RunCheckpoints(ctx context.Context, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.due:
			if _, err := l.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				logger.Error("audit checkpoint failed", "err", err)
			}
		}
	}
}

// CheckpointArgs is the periodic job that signs the head.
type CheckpointArgs struct{}

// Kind implements river.JobArgs.
func (CheckpointArgs) Kind() string { return "audit.checkpoint" }

// CheckpointWorker runs CheckpointArgs.
type CheckpointWorker struct {
	river.WorkerDefaults[CheckpointArgs]
	Log *Log
}

// Work signs the current head.
func (w *CheckpointWorker) Work(ctx context.Context, _ *river.Job[CheckpointArgs]) error {
	_, err := w.Log.Checkpoint(ctx)
	return err
}
