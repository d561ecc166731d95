//go:build !linux

package main

import "errors"

// lowerCPUPriority is implemented on Linux only (nice_linux.go); elsewhere
// serve logs that the worker keeps its priority.
func lowerCPUPriority(int) error {
	return errors.New("--worker-nice is applied on Linux only")
}
