package payment

import (
	"context"
	"errors"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/platform"
)

// ExpireArgs is the periodic job that fails payments left unfinished
// past Expiry.
type ExpireArgs struct{}

// Kind implements river.JobArgs.
func (ExpireArgs) Kind() string { return "payment.expire" }

// ExpireWorker runs Expire until no expired payment is left.
type ExpireWorker struct {
	river.WorkerDefaults[ExpireArgs]
	Payments *Service
}

// sweeper is the actor the expiry sweep acts as in the audit log.
var sweeper = platform.Actor{Kind: platform.ActorSystem, ID: "payment.expire"}

// Work implements river.Worker: it also expires delayed-capture
// payments not captured within CaptureWithin.
func (w *ExpireWorker) Work(ctx context.Context, _ *river.Job[ExpireArgs]) error {
	for {
		n, err := w.Payments.Expire(ctx, sweeper)
		if err != nil {
			return err
		}
		if n < ExpireBatch {
			break
		}
	}
	_, err := w.Payments.ExpireCapturable(ctx, sweeper)
	if errors.Is(err, ErrProviderUnavailable) {
		return nil // the next run asks again
	}
	return err
}
