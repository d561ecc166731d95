package jobs

import (
	"time"

	"github.com/riverqueue/river"
)

// Every returns a periodic job that inserts newArgs() every interval on the
// elected leader (and once when a process becomes leader, if runOnStart).
//
// River's scheduler keeps its state in memory, so a new leader does not know
// when the last one ran the job: with RunOnStart, the job ran twice in the
// minute leadership changed. Each insertion is therefore unique by period:
// a second insertion of the same kind in the same interval-long window of
// the clock (however many replicas, old leader or new) is skipped. Jobs
// must still be idempotent (delivery is at least once); this keeps sweeps
// from running back to back for nothing.
func Every(interval time.Duration, newArgs func() river.JobArgs, runOnStart bool) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return newArgs(), periodicInsertOpts(interval) },
		&river.PeriodicJobOpts{RunOnStart: runOnStart})
}

func periodicInsertOpts(interval time.Duration) *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
}
