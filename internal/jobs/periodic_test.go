package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

type tickArgs struct{}

func (tickArgs) Kind() string { return "test.tick" }

// markArgs is a periodic job without jobs.Every's uniqueness: each leader's
// scheduler inserts it on start in the same batch as tick, so its second
// row shows the second leader's scheduler has run.
type markArgs struct{}

func (markArgs) Kind() string { return "test.mark" }

type markWorker struct {
	river.WorkerDefaults[markArgs]
}

func (markWorker) Work(context.Context, *river.Job[markArgs]) error { return nil }

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	runs *atomic.Int64
}

func (w *tickWorker) Work(context.Context, *river.Job[tickArgs]) error {
	w.runs.Add(1)
	return nil
}

// TestPeriodicJobOnceWhenLeaderChanges: two replicas share one database;
// the first is leader and runs an hourly job on start; it stops, the second
// is elected and (RunOnStart) schedules the job again within the same hour.
// The job runs once. Before jobs.Every made periodic insertions unique by
// period, it ran twice in the minute leadership changed.
func TestPeriodicJobOnceWhenLeaderChanges(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		var runs atomic.Int64
		replica := func() *jobs.Client {
			reg := jobs.NewRegistry()
			jobs.Register(reg, &tickWorker{runs: &runs})
			jobs.Register(reg, markWorker{})
			c, err := jobs.New(db, reg, jobs.Config{Work: true, Workers: 2, FetchPollInterval: 100 * time.Millisecond,
				PeriodicJobs: []*river.PeriodicJob{
					jobs.Every(time.Hour, func() river.JobArgs { return tickArgs{} }, true),
					river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
						func() (river.JobArgs, *river.InsertOpts) { return markArgs{}, nil },
						&river.PeriodicJobOpts{RunOnStart: true}),
				}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		waitFor := func(what string, ok func() bool) {
			t.Helper()
			deadline := time.Now().Add(45 * time.Second)
			for !ok() {
				if time.Now().After(deadline) {
					t.Fatalf("timed out waiting for %s", what)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		first := replica()
		if err := first.Start(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor("the first leader's run", func() bool { return runs.Load() == 1 })
		second := replica()
		if err := second.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = second.Stop(context.Background()) })
		if err := first.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		count := func(kind string) int {
			var n int
			if err := db.Read().QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE kind = $1`, kind).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// The second replica is elected and its scheduler inserts both
		// jobs on start: the mark's second row says it has.
		waitFor("the second leader's scheduler", func() bool { return count("test.mark") == 2 })
		time.Sleep(500 * time.Millisecond) // a tick inserted now would be fetched and run
		jobsInserted := count("test.tick")
		if got := runs.Load(); got != 1 || jobsInserted != 1 {
			t.Fatalf("the hourly job ran %d times (%d jobs inserted) across a change of leader, want once", got, jobsInserted)
		}
	})
}
