package notifyapi

import (
	"sync"
	"time"
)

// limiter is Notify's per-key-type rate limit: at most n requests in any
// rolling window, per service and key type. It keeps the times of the
// last n requests in a ring, so a check is O(1) and exact.
type limiter struct {
	n      int
	window time.Duration
	mu     sync.Mutex
	rings  map[string]*ring
}

type ring struct {
	times []time.Time
	next  int
}

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: n, window: window, rings: map[string]*ring{}}
}

// allow records a request for key at now, unless n requests already fell
// in the window before it.
func (l *limiter) allow(key string, now time.Time) bool {
	if l.n <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rings[key]
	if r == nil {
		r = &ring{times: make([]time.Time, 0, min(l.n, 1024))}
		l.rings[key] = r
	}
	if len(r.times) < l.n {
		r.times = append(r.times, now)
		return true
	}
	oldest := r.times[r.next]
	if now.Sub(oldest) < l.window {
		return false
	}
	r.times[r.next] = now
	r.next = (r.next + 1) % l.n
	return true
}

// daily counts each service's sends per UTC day, starting from what the
// database holds the first time a service is seen that day.
type daily struct {
	mu     sync.Mutex
	counts map[string]dayCount
}

type dayCount struct {
	day string
	n   int
}

// take adds one send for service on day if it stays within limit. seed is
// called (without the lock) when the service has no count for the day yet.
func (d *daily) take(service, day string, limit int, seed func() (int, error)) (bool, error) {
	if limit <= 0 {
		return true, nil
	}
	d.mu.Lock()
	c, ok := d.counts[service]
	d.mu.Unlock()
	if !ok || c.day != day {
		n, err := seed()
		if err != nil {
			return false, err
		}
		d.mu.Lock()
		if c2, ok := d.counts[service]; !ok || c2.day != day {
			d.counts[service] = dayCount{day: day, n: n}
		}
		d.mu.Unlock()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c = d.counts[service]
	if c.n >= limit {
		return false, nil
	}
	c.n++
	d.counts[service] = c
	return true, nil
}
