package bench

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// BenchmarkAuditWrite appends audit entries in transactions of their own
// (audit.Log.Write, as the gateway audits each plug-in call) from 8
// goroutines at once on 2 cores, on SQLite and PostgreSQL, and reports
// entries committed per second. Each Write returns only after its entry
// is committed.
//
//	go test ./bench -run '^$' -bench AuditWrite -benchtime 3s
func BenchmarkAuditWrite(b *testing.B) {
	for _, d := range storagetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			l := audit.New(storagetest.Open(b, d), platform.SystemClock{}, nil)
			ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorStaff, ID: "casey"})
			var n atomic.Int64
			b.SetParallelism(parallelism)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := l.Write(ctx, audit.Record{Action: "plugin.call", Subject: "plugin:vehicle-registry", AgencyID: "dmv",
						Detail: map[string]any{"operation": "find-vehicle", "outcome": "ok", "i": i}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "writes/s")
		})
	}
}
