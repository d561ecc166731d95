package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// anchor stores, the default
	_ "gocloud.dev/blob/memblob"  // mem:// anchor stores, for tests
	"gocloud.dev/gcerrors"
)

// Anchors is the anchor store: a gocloud.dev/blob bucket outside the
// database to which every signed checkpoint is appended. Someone who can
// write to the database but not to the bucket can delete or rewrite
// checkpoint rows, but not the anchors, so Verify still knows which heads
// were signed.
//
// Contract: anchors are only ever added. An anchor's key names the whole
// checkpoint (sequence number, time, key id, hash, signature), so
//   - a retry of the same checkpoint finds its own object and is a no-op,
//   - a different checkpoint for the same entry gets a different key, which
//     Verify reports, instead of overwriting the first, and
//   - Verify reads the store with listings alone, without one GET per anchor.
//
// Writes are conditional (if-not-exists) where the driver allows it
// (file://, mem:// and s3:// do). Give production replicas credentials that
// may create objects but not delete or overwrite them (S3 Object Lock in
// compliance mode), and the same store for every replica.
type Anchors struct {
	bucket *blob.Bucket
}

// anchorPrefix keeps the anchors apart from anything else in a shared bucket.
const anchorPrefix = "audit-checkpoints/"

// OpenAnchors opens the anchor store at url: any gocloud.dev/blob URL.
// Schemes other than file:// and mem:// must be registered by the program
// (internal/app registers s3://).
func OpenAnchors(ctx context.Context, url string) (*Anchors, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("audit: open anchor store: %w", err)
	}
	return &Anchors{bucket: b}, nil
}

// Close releases the bucket.
func (a *Anchors) Close() error { return a.bucket.Close() }

// anchorKey is the object key of cp. Every field is drawn from characters
// that are safe in file names and object keys, and none contains a dot.
func anchorKey(cp Checkpoint) string {
	return fmt.Sprintf("%s%019d.%d.%s.%s.%s", anchorPrefix, cp.Seq, cp.At.UnixMicro(), cp.KeyID, cp.Hash, cp.Signature)
}

// parseAnchorKey is the inverse of anchorKey.
func parseAnchorKey(key string) (Checkpoint, error) {
	parts := strings.Split(strings.TrimPrefix(key, anchorPrefix), ".")
	if !strings.HasPrefix(key, anchorPrefix) || len(parts) != 5 {
		return Checkpoint{}, errors.New("not a checkpoint")
	}
	seq, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || seq <= 0 {
		return Checkpoint{}, errors.New("bad sequence number")
	}
	micros, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return Checkpoint{}, errors.New("bad time")
	}
	return Checkpoint{Seq: seq, At: time.UnixMicro(micros).UTC(), KeyID: parts[2], Hash: parts[3], Signature: parts[4]}, nil
}

// Put appends cp to the store. Putting a checkpoint that is already there
// succeeds and changes nothing.
func (a *Anchors) Put(ctx context.Context, cp Checkpoint) error {
	body, err := json.Marshal(cp) // for people reading the store; Verify uses the key
	if err != nil {
		return fmt.Errorf("audit: anchor checkpoint %d: %w", cp.Seq, err)
	}
	err = a.bucket.WriteAll(ctx, anchorKey(cp), body, &blob.WriterOptions{ContentType: "application/json", IfNotExist: true})
	if err != nil && gcerrors.Code(err) != gcerrors.FailedPrecondition {
		return fmt.Errorf("audit: anchor checkpoint %d: %w", cp.Seq, err)
	}
	return nil
}

// Stored is the content of the anchor store.
type Stored struct {
	Checkpoints []Checkpoint // in sequence order
	Unreadable  []string     // keys under the prefix that name no checkpoint
}

// List reads every anchor.
//
// A file:// store lists a directory and then reads each entry's details:
// an anchor being written while it lists can vanish in between (its
// temporary file renamed into place), and the listing fails as not
// found. That is a race with a writer, not a missing anchor, so List
// starts again, a few times.
func (a *Anchors) List(ctx context.Context) (Stored, error) {
	for attempt := 1; ; attempt++ {
		s, err := a.list(ctx)
		if err == nil || gcerrors.Code(err) != gcerrors.NotFound || attempt == 5 || ctx.Err() != nil {
			return s, err
		}
	}
}

func (a *Anchors) list(ctx context.Context) (Stored, error) {
	var s Stored
	it := a.bucket.List(&blob.ListOptions{Prefix: anchorPrefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Stored{}, fmt.Errorf("audit: list anchors: %w", err)
		}
		// A write interrupted by a crash may leave fileblob's temporary
		// file (KEY.HEX.tmp) behind; it was never an anchor.
		if obj.IsDir || strings.HasSuffix(obj.Key, ".tmp") {
			continue
		}
		cp, err := parseAnchorKey(obj.Key)
		if err != nil {
			s.Unreadable = append(s.Unreadable, obj.Key)
			continue
		}
		s.Checkpoints = append(s.Checkpoints, cp)
	}
	return s, nil
}
