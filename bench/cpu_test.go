package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
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

// userHZ is the unit of /proc/PID/stat's CPU times: USER_HZ, 100 on
// every Linux architecture Go supports (it is part of the kernel's ABI,
// unlike the kernel's own HZ).
const userHZ = 100

// pidsCPU is the CPU time (user and system, every thread, those ended
// included) the processes pids have used so far, from /proc/PID/stat, to
// a hundredth of a second: over a benchmark's seconds at thousands of
// requests a second that is well under a microsecond per request.
func pidsCPU(pids ...int) (time.Duration, error) {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// The command name (field 2) is in parentheses and may hold
		// spaces; fields 14 and 15 (utime, stime) count after it.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
		}
		f := strings.Fields(string(b[i+1:])) // f[0] is field 3
		if len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
		}
		for _, s := range f[11:13] {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
			}
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// childPIDs lists the processes whose parent is ppid (nginx's workers).
func childPIDs(ppid int) ([]int, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // ended since ReadDir
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(string(b[i+1:])); len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
