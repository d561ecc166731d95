//go:build linux || darwin || freebsd

package storage

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// gate is the cross-process flag of foreground work on one SQLite
// database (priority.go): a process with requests in flight holds a
// shared flock on the file; a process about to take a bulk step tries
// for the exclusive lock and lets it go at once, and fails exactly when
// some holder of the shared lock exists. Locks held through other open
// files conflict even within one process, so a web and a worker app in
// one test binary see each other as two processes would. The kernel
// drops a dead process's lock: a crashed web process leaves no flag up.
type gate struct {
	mu      sync.Mutex
	f       *os.File // held shared while this process has requests in flight
	probe   *os.File // tried exclusive by Yield
	holding bool
}

// openGate opens (creating) the flag file of the SQLite database at path;
// nil when it cannot, which only loses the cross-process yielding.
func openGate(path string) *gate {
	f, err := os.OpenFile(path+"-priority", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil
	}
	probe, err := os.OpenFile(path+"-priority", os.O_RDWR, 0)
	if err != nil {
		f.Close()
		return nil
	}
	return &gate{f: f, probe: probe}
}

// hold raises the flag if requests are in flight and it is not up.
func (g *gate) hold(inFlight *atomic.Int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holding || inFlight.Load() == 0 {
		return
	}
	// Blocks only while another process probes (microseconds).
	if syscall.Flock(int(g.f.Fd()), syscall.LOCK_SH) == nil {
		g.holding = true
	}
}

// release lowers the flag if no request is in flight any more.
func (g *gate) release(inFlight *atomic.Int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.holding || inFlight.Load() > 0 {
		return
	}
	if syscall.Flock(int(g.f.Fd()), syscall.LOCK_UN) == nil {
		g.holding = false
	}
}

// heldElsewhere reports whether another process (or another app on the
// same database in this one) has requests in flight.
func (g *gate) heldElsewhere() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holding {
		// Our own shared lock would make the probe fail; this process's
		// requests are counted by the caller, and another's cannot be
		// told apart from them, so take it as busy.
		return true
	}
	fd := int(g.probe.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(fd, syscall.LOCK_UN)
	return false
}

func (g *gate) close() error {
	if g == nil {
		return nil
	}
	g.probe.Close()
	return g.f.Close()
}
