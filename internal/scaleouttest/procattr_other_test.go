//go:build !linux

package scaleouttest

import "syscall"

// childAttr: elsewhere than Linux a child outlives a test that times out.
func childAttr() *syscall.SysProcAttr { return nil }
