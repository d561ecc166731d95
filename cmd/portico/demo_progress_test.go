package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemoSaysItIsStarting: `portico demo` prints a line at once, before
// it opens the database, and a line per slow seeding step, before the
// banner with the URL (a first `go run` has been silent for minutes).
func TestDemoSaysItIsStarting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, func(string) string { return "" }, strings.NewReader(""), stdout, stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !urlPattern.MatchString(stdout.String()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d:\n%s", code, stderr)
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "Starting Portico…\n") {
		t.Fatalf("the demo's first line is not \"Starting Portico…\":\n%s", out)
	}
	last := 0
	for _, step := range []string{"Opening the database in", "Seeding the demo: the State of Example", "Seeding the demo: people", "Seeding the demo: services", "Seeding the demo: reminders", "Portico demo is running at"} {
		i := strings.Index(out, step)
		if i < last {
			t.Fatalf("%q missing or out of order:\n%s", step, out)
		}
		last = i
	}
}
