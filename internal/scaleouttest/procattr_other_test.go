//go:build !linux

package scaleouttest

import "syscall"

// childAttr: elsewhere than Linux a child outlives a test that times out.
func childAttr() *syscall.SysProcAttr { return nil }

// canRunAs: starting a child as another user is done on Linux only.
const canRunAs = false

// serverAttr: as childAttr, as this process's user.
func serverAttr(int, int) *syscall.SysProcAttr { return nil }
