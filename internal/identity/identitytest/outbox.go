// Package identitytest has helpers for tests of the identity block and of
// the pages built on it.
package identitytest

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"

	"github.com/portico-gov/portico/internal/identity"
)

// Outbox records what identity asks the notification block to send, for
// tests that check the content of emails. (The notify block's own tests
// prove delivery over SMTP; the whole-program tests read the real
// development mailbox.)
type Outbox struct {
	mu   sync.Mutex
	msgs []identity.Message
}

var _ identity.Mailer = (*Outbox)(nil)

// SendEmail implements identity.Mailer.
func (o *Outbox) SendEmail(ctx context.Context, tx *sql.Tx, m identity.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	return nil
}

// Last returns the newest email to the address (any case), failing the
// test when there is none.
func (o *Outbox) Last(t testing.TB, to string) identity.Message {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.msgs) - 1; i >= 0; i-- {
		if strings.EqualFold(o.msgs[i].To, to) {
			return o.msgs[i]
		}
	}
	t.Fatalf("no email to %s", to)
	return identity.Message{}
}

// Count returns how many emails went to the address (any case).
func (o *Outbox) Count(to string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.msgs {
		if strings.EqualFold(m.To, to) {
			n++
		}
	}
	return n
}
