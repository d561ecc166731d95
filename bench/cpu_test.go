package bench

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time (user and system, every thread) this process
// has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports cpu-us/op: the process's CPU time over the timed
// loop (server and in-process client together, setup excluded) per
// request. On a shared machine it moves much less than req/s, which
// measures how much of the cores the process was given.
func reportCPU(b *testing.B, cpu time.Duration, n int) {
	if n > 0 && cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-us/op")
	}
}
