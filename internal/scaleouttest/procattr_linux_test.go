package scaleouttest

import "syscall"

// childAttr makes a child (a replica, nginx) die with the test binary: a
// test that times out panics without running its cleanups, and once left
// three replicas and nginx running on the machine.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// canRunAs reports whether serverAttr can start a child as another user.
const canRunAs = true

// serverAttr is childAttr for a child that runs as user uid and group gid
// (PostgreSQL's tools refuse to run as root); uid < 0: as this process.
// Go sets the parent-death signal after changing the user, so it holds.
func serverAttr(uid, gid int) *syscall.SysProcAttr {
	a := childAttr()
	if uid >= 0 {
		a.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	return a
}
