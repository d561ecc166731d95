// Command load is a small closed-loop HTTP load generator for Portico's
// benchmarks. It keeps -c requests in flight against one URL for -d, over
// keep-alive connections, and prints requests per second, latency
// percentiles and errors.
//
//	go run ./bench/load -url http://127.0.0.1:8080/ -c 32 -d 10s
//
// It is for measuring a server on this machine only: it refuses any URL
// whose host is not 127.0.0.1, localhost or ::1, refuses to dial anything
// that is not a loopback address, and refuses durations over -max-d.
//
// Latencies are measured closed-loop (a worker sends its next request when
// the previous one finishes), so under overload they understate what an
// open stream of users would see; compare them only with a baseline measured
// the same way.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxDuration bounds -d and -warmup: this is a benchmark, not a soak test.
const maxDuration = 10 * time.Minute

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
}

type options struct {
	url         string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	status      int
	tsv         bool
}

func run(args []string) error {
	var o options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "", "URL to GET (host must be 127.0.0.1, localhost or ::1)")
	fs.IntVar(&o.concurrency, "c", 32, "concurrent requests in flight")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "how long to measure (at most 10m)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "load applied before measuring, not counted")
	fs.IntVar(&o.status, "status", http.StatusOK, "expected status; any other counts as an error")
	fs.BoolVar(&o.tsv, "tsv", false, "print one tab-separated line: req/s p50-ms p90-ms p99-ms errors requests bytes/response")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := checkURL(o.url); err != nil {
		return err
	}
	if o.concurrency < 1 || o.concurrency > 10000 {
		return fmt.Errorf("-c %d must be between 1 and 10000", o.concurrency)
	}
	if o.duration <= 0 || o.duration > maxDuration {
		return fmt.Errorf("-d %s must be positive and at most %s", o.duration, maxDuration)
	}
	if o.warmup < 0 || o.warmup > maxDuration {
		return fmt.Errorf("-warmup %s must be between 0 and %s", o.warmup, maxDuration)
	}

	client := newClient(o.concurrency)
	defer client.CloseIdleConnections()
	if o.warmup > 0 {
		attack(client, o, o.warmup)
	}
	r := attack(client, o, o.duration)
	r.print(os.Stdout, o)
	if r.requests == 0 {
		return fmt.Errorf("no successful requests (%d errors; first: %v)", r.errors, r.firstErr)
	}
	return nil
}

// checkURL accepts only http(s) URLs on a loopback host name or address.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("-url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url %q must be http or https", raw)
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
		return nil
	}
	return fmt.Errorf("-url %q: refusing a non-loopback host %q (only 127.0.0.1, localhost and ::1)", raw, u.Hostname())
}

// newClient returns a keep-alive client with one idle connection per
// worker, which dials loopback addresses only (so "localhost" cannot be
// pointed elsewhere).
func newClient(conns int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
				if err != nil {
					return nil, err
				}
				for _, ip := range ips {
					if ip.IsLoopback() {
						return dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
					}
				}
				return nil, fmt.Errorf("%s does not resolve to a loopback address", host)
			},
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: 30 * time.Second,
	}
}

type result struct {
	elapsed   time.Duration
	requests  int             // successful
	errors    int             // transport errors and unexpected statuses
	firstErr  error           // for the message when nothing succeeded
	bytes     int64           // body bytes of successful responses
	latencies []time.Duration // successful requests, sorted
}

// attack runs o.concurrency workers until d has passed. A worker starts no
// request after the deadline; requests already in flight finish and count.
func attack(client *http.Client, o options, d time.Duration) result {
	type worker struct {
		lat      []time.Duration
		bytes    int64
		errors   int
		firstErr error
	}
	workers := make([]worker, o.concurrency)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.lat = make([]time.Duration, 0, 4096)
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t0 := time.Now()
				n, err := get(client, o.url, o.status)
				if err != nil {
					w.errors++
					if w.firstErr == nil {
						w.firstErr = err
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
				w.bytes += n
			}
		})
	}
	wg.Wait()
	r := result{elapsed: time.Since(start)}
	for _, w := range workers {
		r.latencies = append(r.latencies, w.lat...)
		r.errors += w.errors
		r.bytes += w.bytes
		if r.firstErr == nil {
			r.firstErr = w.firstErr
		}
	}
	r.requests = len(r.latencies)
	slices.Sort(r.latencies)
	return r
}

// get sends one GET, reads the whole body and checks the status. It
// returns the body's length.
func get(client *http.Client, u string, want int) (int64, error) {
	resp, err := client.Get(u)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return n, err
	}
	if resp.StatusCode != want {
		return n, fmt.Errorf("status %d, want %d", resp.StatusCode, want)
	}
	return n, nil
}

// percentile returns the nearest-rank percentile p (0 < p <= 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p)) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r result) print(w io.Writer, o options) {
	rps := float64(r.requests) / r.elapsed.Seconds()
	p50, p90, p99 := percentile(r.latencies, .50), percentile(r.latencies, .90), percentile(r.latencies, .99)
	var size int64
	if r.requests > 0 {
		size = r.bytes / int64(r.requests)
	}
	if o.tsv {
		fmt.Fprintf(w, "%.1f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\n", rps, ms(p50), ms(p90), ms(p99), r.errors, r.requests, size)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "url:         %s\n", o.url)
	fmt.Fprintf(&b, "concurrency: %d\n", o.concurrency)
	fmt.Fprintf(&b, "duration:    %s (after %s warm-up)\n", r.elapsed.Round(time.Millisecond), o.warmup)
	fmt.Fprintf(&b, "requests:    %d ok, %d errors, %d body bytes each\n", r.requests, r.errors, size)
	fmt.Fprintf(&b, "requests/s:  %.1f\n", rps)
	fmt.Fprintf(&b, "latency:     p50 %.3f ms   p90 %.3f ms   p99 %.3f ms\n", ms(p50), ms(p90), ms(p99))
	if r.firstErr != nil {
		fmt.Fprintf(&b, "first error: %v\n", r.firstErr)
	}
	io.WriteString(w, b.String())
}
