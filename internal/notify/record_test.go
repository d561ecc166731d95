package notify

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"
)

// TestRecordRetrying: recording an outcome is tried again while the
// database is unavailable (a PostgreSQL restart: the scale-out test), and
// only then; a client's or the code's error, or the end of the job's
// context, ends it.
func TestRecordRetrying(t *testing.T) {
	lost := fmt.Errorf("storage: commit: %w", driver.ErrBadConn)
	t.Run("unavailable, then recorded", func(t *testing.T) {
		tries := 0
		err := recordRetrying(context.Background(), func(context.Context) error {
			if tries++; tries < 3 {
				return lost
			}
			return nil
		})
		if err != nil || tries != 3 {
			t.Fatalf("%d tries, %v; want 3 and nil", tries, err)
		}
	})
	t.Run("another error is not retried", func(t *testing.T) {
		tries := 0
		bad := errors.New("syntax error")
		err := recordRetrying(context.Background(), func(context.Context) error { tries++; return bad })
		if !errors.Is(err, bad) || tries != 1 {
			t.Fatalf("%d tries, %v; want 1 and the error", tries, err)
		}
	})
	t.Run("the context ends the tries", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		tries := 0
		err := recordRetrying(ctx, func(context.Context) error {
			if tries++; tries == 2 {
				cancel()
			}
			return lost
		})
		if !errors.Is(err, driver.ErrBadConn) || tries != 2 {
			t.Fatalf("%d tries, %v; want 2 and the last error", tries, err)
		}
	})
}
