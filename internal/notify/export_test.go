package notify

import (
	"context"
	"database/sql"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTPPool exposes the connection pool to the external tests.
type SMTPPool struct{ p *smtpPool }

func NewSMTPPool(t SMTPTarget, timeout time.Duration, size int) (*SMTPPool, error) {
	p, err := newSMTPPool(t, timeout, size)
	return &SMTPPool{p}, err
}

func (p *SMTPPool) Send(ctx context.Context, m *mail.Msg) error { return p.p.send(ctx, m) }
func (p *SMTPPool) Close()                                      { p.p.close() }

// Idle is how many connections wait in the pool.
func (p *SMTPPool) Idle() int {
	p.p.mu.Lock()
	defer p.p.mu.Unlock()
	return len(p.p.idle)
}

// IsPermanent is isPermanent, for the pool's refusals.
func IsPermanent(err error) bool { return isPermanent(err) }

// SubmitBatch prepares ms and stores them as one group commit's batch
// (storeBatch) in a transaction of its own, whatever the batch size.
func (s *Service) SubmitBatch(ctx context.Context, ms []Message) ([]*Notification, error) {
	batch := make([]*Notification, len(ms))
	for i, m := range ms {
		n, err := s.prepare(ctx, m)
		if err != nil {
			return nil, err
		}
		batch[i] = &n
	}
	return batch, s.db.InTx(ctx, func(tx *sql.Tx) error { return s.storeBatch(ctx, tx, batch) })
}

// RecordDeliveredAgain records n delivered as a delivery job does, once
// by the single delivery's path and once by a batch's: what a try after
// a commit whose answer was lost does (recordRetrying).
func (s *Service) RecordDeliveredAgain(ctx context.Context, n Notification) error {
	if err := s.finish(ctx, n, StatusDelivered, nil, ""); err != nil {
		return err
	}
	_, err := s.finishMany(ctx, []outcome{{n: n}}, false)
	return err
}
