//go:build !race

package application_test

// raceDetector is true when the tests run with -race.
const raceDetector = false
