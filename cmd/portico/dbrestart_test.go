package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// tcpProxy forwards connections from a loopback port to a target address.
// Stop closes the port and every connection through it, as a database
// server that restarts does to its clients; Start opens the same port
// again.
type tcpProxy struct {
	t      *testing.T
	addr   string // where the proxy listens
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *tcpProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c) || !p.track(up) {
		c.Close()
		up.Close()
		return
	}
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// Stop closes the listening port and cuts every connection.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// Start listens on the proxy's port again.
func (p *tcpProxy) Start() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment after Stop
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestDatabaseRestartAnswers503: while PostgreSQL is out of reach (the
// connection to it cut and refused, as during a restart), pages, the JSON
// API and the Notify API answer 503 with Retry-After, not 500, and log no
// server errors for it; when it is back, the same requests succeed again
// without restarting Portico.
func TestDatabaseRestartAnswers503(t *testing.T) {
	if os.Getenv(storagetest.PostgresEnv) == "" {
		t.Skipf("needs PostgreSQL: set %s", storagetest.PostgresEnv)
	}
	dbURL := storagetest.NewURL(t, storage.Postgres)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	base, _, logs := startServeLogged(t, "--db", u.String(), "--workers", "1")

	notifyToken := func() string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": uuid.NewString(), "iat": time.Now().Unix()}).SignedString([]byte(uuid.NewString()))
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	type probe struct {
		name, path, auth string
		up               int // status while the database is up
	}
	probes := []probe{
		{"page", "/services?q=dog", "", 200},
		{"api", "/api/v1/services?q=dog", "", 200},
		{"notify api", "/v2/notifications", "", 403},   // an unknown service: refused, after asking the database
		{"payments api", "/v1/payments/none", "", 401}, // an unknown key: refused, after asking the database
	}
	call := func(p probe) (int, http.Header, string) {
		req, _ := http.NewRequest("GET", base+p.path, nil)
		switch p.name {
		case "notify api":
			req.Header.Set("Authorization", notifyToken())
		case "payments api":
			req.Header.Set("Authorization", "Bearer api_live_"+strings.ReplaceAll(uuid.NewString(), "-", ""))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	for _, p := range probes {
		if code, _, body := call(p); code != p.up {
			t.Fatalf("%s before the outage: %d %s", p.name, code, body)
		}
	}

	// Meanwhile, requests keep arriving: across the outage and the
	// recovery each is answered 200 or 503 with Retry-After, never 500.
	stopLoad := make(chan struct{})
	var load sync.WaitGroup
	var loadMu sync.Mutex
	seen := map[int]int{}
	for i := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			p := probes[i%2]
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				resp, err := http.Get(base + p.path)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code := resp.StatusCode
				if code == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					code = -503
				}
				loadMu.Lock()
				seen[code]++
				loadMu.Unlock()
			}
		}()
	}

	proxy.Stop()
	for _, p := range probes {
		// The first request may find a pooled connection already gone;
		// every answer during the outage must be 503 with Retry-After.
		for range 3 {
			code, h, body := call(p)
			if code != http.StatusServiceUnavailable || h.Get("Retry-After") != "5" {
				t.Fatalf("%s during the outage: %d Retry-After %q\n%s", p.name, code, h.Get("Retry-After"), body)
			}
			switch p.name {
			case "api":
				var prob struct{ Code string }
				if json.Unmarshal([]byte(body), &prob); prob.Code != "unavailable" || h.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("api problem during the outage: %s", body)
				}
			case "page":
				if !strings.Contains(body, "Sorry, the service is busy") {
					t.Fatalf("page during the outage:\n%s", body)
				}
			}
		}
	}
	if code, _, _ := call(probe{name: "ready", path: "/readyz"}); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the outage: %d", code)
	}

	proxy.Start()
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range probes {
		for {
			code, _, body := call(p)
			if code == p.up {
				break
			}
			if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("%s after the outage: %d %s", p.name, code, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	close(stopLoad)
	load.Wait()
	for code, n := range seen {
		if code != 200 && code != http.StatusServiceUnavailable {
			t.Errorf("under load across the outage: %d answers %d (all: %v)", n, code, seen)
		}
	}
	if seen[http.StatusServiceUnavailable] == 0 || seen[200] == 0 {
		t.Errorf("the load saw no outage or no recovery: %v", seen)
	}
	t.Logf("answers under load across the outage: %v", seen)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "request failed") || strings.Contains(line, "msg=\"notify api\"") {
			t.Errorf("a server error logged for the outage: %s", line)
		}
	}
}

// startServeLogged is startServeApp that also returns the process's log.
func startServeLogged(t *testing.T, args ...string) (string, *app.App, *syncBuffer) {
	t.Helper()
	started := make(chan *app.App, 1)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), startedHookKey{}, func(a *app.App) { started <- a }))
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop within 60s")
		}
	})
	select {
	case a := <-started:
		return a.URL(), a, stderr
	case code := <-done:
		t.Fatalf("serve exited %d before serving:\n%s", code, stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start:\n%s", stderr)
	}
	return "", nil, nil
}
