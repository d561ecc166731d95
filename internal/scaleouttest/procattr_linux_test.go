package scaleouttest

import "syscall"

// childAttr makes a child (a replica, nginx) die with the test binary: a
// test that times out panics without running its cleanups, and once left
// three replicas and nginx running on the machine.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
