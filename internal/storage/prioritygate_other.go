//go:build !(linux || darwin || freebsd)

package storage

import "sync/atomic"

// gate is the cross-process flag of foreground work (prioritygate_flock.go);
// here there is none: only this process's requests hold bulk work back.
type gate struct{}

func openGate(string) *gate         { return nil }
func (*gate) hold(*atomic.Int64)    {}
func (*gate) release(*atomic.Int64) {}
func (*gate) heldElsewhere() bool   { return false }
func (*gate) close() error          { return nil }
