package main

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const niceChildEnv = "PORTICO_TEST_NICE_CHILD"

// TestLowerCPUPriority runs a child copy of this test binary that lowers
// its priority to niceness 7 and then starts threads; every thread of the
// child, those it had and those started after, must have niceness 7. (A
// child, because niceness cannot be raised back without privilege.)
func TestLowerCPUPriority(t *testing.T) {
	if os.Getenv(niceChildEnv) != "" {
		if err := lowerCPUPriority(7); err != nil {
			t.Fatal(err)
		}
		// Threads started after: each goroutine locked to its own thread
		// while the others are started.
		var wg, started sync.WaitGroup
		hold := make(chan struct{})
		for range 8 {
			started.Add(1)
			wg.Go(func() {
				runtime.LockOSThread()
				started.Done()
				<-hold // a locked goroutine keeps its thread: 8 threads at least
			})
		}
		started.Wait()
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			stat, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
			if err != nil {
				continue // ended
			}
			// Fields after the command's closing parenthesis; nice is
			// the 19th field of the line, the 17th after it.
			f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			if f[16] != "7" {
				t.Errorf("thread %s has niceness %s, want 7", task.Name(), f[16])
			}
		}
		if len(tasks) < 8 {
			t.Errorf("only %d threads seen", len(tasks))
		}
		close(hold)
		wg.Wait()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLowerCPUPriority$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), niceChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestLowerCPUPriority") {
		t.Fatalf("child did not run the check:\n%s", out)
	}
	// The parent is left as it was.
	if p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); err == nil && 20-p == 7 {
		t.Error("the test process itself was reniced")
	}
}
