package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// lowerCPUPriority gives every thread of this process the CPU niceness n
// (ADR 74: a --role worker process yields the CPUs to the web processes
// on the same machine). On Linux niceness belongs to each thread, and
// setpriority(PRIO_PROCESS, 0) changes only the calling one, so it is set
// on every thread in /proc/self/task; a thread the Go runtime starts
// later inherits it from the thread that starts it. Threads started while
// the list is read are caught by reading it again until a pass finds
// nothing left to change. Raising niceness needs no privilege.
func lowerCPUPriority(n int) error {
	for pass := 0; pass < 10; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("lower CPU priority: %w", err)
		}
		changed := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			// getpriority's raw syscall returns 20 - nice.
			if p, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid); err == nil && 20-p == n {
				continue
			}
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil {
				if err == syscall.ESRCH {
					continue // the thread ended
				}
				return fmt.Errorf("lower CPU priority of thread %d to %d: %w", tid, n, err)
			}
			changed++
		}
		if changed == 0 {
			return nil
		}
	}
	return nil
}
