package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// BenchmarkGatewayHTTP measures plug-in calls per second and their
// latency (p50, p99) under concurrency, over real loopback HTTP, three
// ways to the same plug-in process (the example vehicle-registry, which
// verifies every call's token against Portico's JWKS, cached):
//
//   - server=direct: the client calls the plug-in itself, with a token
//     minted once.
//   - server=nginx: the client calls nginx, which proxy_passes to the
//     plug-in over kept-alive upstream connections (same token). nginx
//     is started by the benchmark from a generated configuration in a
//     temporary directory; without nginx on PATH this server is skipped
//     with a message.
//   - server=gateway: the client calls a bare net/http front whose
//     handler makes one gateway.Gateway.Call per request (access check,
//     a freshly minted ES256 token, the call, response validation against
//     the OpenAPI document, the audit entry committed in the hash-chained
//     log before the answer is written) and writes the plug-in's answer.
//     The front runs in the benchmark's process, beside the client and
//     the plug-in.
//   - server=gateway-process: the same front in a process of its own
//     (this test binary again, running TestGatewayFrontProcess on the
//     same database), as nginx runs in processes of its own and as
//     Portico runs in production. On a machine shared with other work
//     the kernel shares the CPU per thread, so a proxy in its own
//     process gets a share of its own; this row compares like with like.
//
// So every path has exactly one HTTP hop more than direct, except direct.
// Each (engine, round) runs the servers one after the other in an
// order rotated per round, so that the machine's noise hits each alike;
// PORTICO_BENCH_ROUNDS (default 1) sets the rounds. bench/gateway.sh runs
// it with several rounds and prints medians and ratios to nginx.
//
//	go test ./bench -run '^$' -bench GatewayHTTP -benchtime 3s
func BenchmarkGatewayHTTP(b *testing.B) {
	rounds := 1
	if s := os.Getenv("PORTICO_BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			b.Fatalf("PORTICO_BENCH_ROUNDS=%q: want a whole number from 1 to 100", s)
		}
		rounds = n
	}
	for _, d := range storagetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			dbURL := storagetest.NewURL(b, d)
			db, err := storage.Open(context.Background(), dbURL)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			env := gatewaytest.New(b, db, gatewaytest.Timeouts{})
			env.GiveConsent(b, gatewayCall.Person) // the call carries the person's name: without their consent it is refused (502)
			env.SetHandler(vehicleregistry.NewServer(vehicleregistry.Config{Issuer: env.Issuer.URL}).Handler())
			g := env.Gateway(b, gateway.Config{})

			ctx := context.Background()
			tok, err := env.OIDC.SignJWT(ctx, map[string]any{"iss": env.Issuer.URL, "aud": "vehicle-registry", "sub": "x",
				"jti": "bench-direct", "agency": "dmv", "service": "vehicle-registration-renewal", // the claims a plug-in requires (pluginsdk)

				"iat": time.Now().Unix(), "exp": time.Now().Add(gateway.MaxTokenTTL).Unix()})
			if err != nil {
				b.Fatal(err)
			}
			auth := http.Header{"Authorization": {"Bearer " + tok}}
			const path = "/vehicles/EX4KQ218"

			servers := []struct {
				name, url string
				header    http.Header
				cpu       func() (time.Duration, error) // the server's own processes' CPU time; nil when it shares the benchmark's
			}{
				{"direct", env.Plugin.URL + path, auth, nil},
				{"nginx", "", auth, nil},
				{"gateway", startGatewayFront(b, g) + path, nil, nil},
				{"gateway-process", "", nil, nil},
				{"goproxy", startGoProxy(b, env.Plugin.URL) + path, auth, nil},
				{"goproxy-process", "", auth, nil},
			}
			if u, pid, err := startGoProxyProcess(b, env.Plugin.URL); err != nil {
				b.Fatalf("the Go proxy's own process: %v", err)
			} else {
				servers[5].url, servers[5].cpu = u+path, func() (time.Duration, error) { return pidsCPU(pid) }
			}
			if u, pid, err := startGatewayProcess(b, dbURL, env.Issuer.URL); err != nil {
				b.Fatalf("the gateway's own process: %v", err)
			} else {
				servers[3].url, servers[3].cpu = u+path, func() (time.Duration, error) { return pidsCPU(pid) }
			}
			if u, master, err := startNginx(b, env.Plugin.URL); err != nil {
				b.Logf("nginx: %v; server=nginx is skipped", err)
			} else {
				servers[1].url = u + path
				servers[1].cpu = func() (time.Duration, error) { // the master and its workers, as they are now
					workers, err := childPIDs(master)
					if err != nil {
						return 0, err
					}
					return pidsCPU(append(workers, master)...)
				}
			}
			for r := range rounds {
				for i := range servers {
					s := servers[(i+r)%len(servers)]
					b.Run(fmt.Sprintf("round=%d/server=%s", r+1, s.name), func(b *testing.B) {
						if s.url == "" {
							b.Skip("nginx is not installed (apt-get install nginx)")
						}
						driveMeasured(b, s.url, s.header, s.cpu)
					})
				}
			}
		})
	}
}

// gatewayCall is the call the front makes for every request: the
// demo's vehicle lookup by plate, for a caseworker of the DMV, carrying
// the person's name.
var gatewayCall = gateway.Request{Agency: "dmv", Service: "vehicle-registration-renewal", Person: "acct-ana",
	Plugin: "vehicle-registry", Operation: "find-vehicle", Data: map[string]any{"name": "Ana Example"}}

// startGatewayFront serves GET /vehicles/{plate} on loopback by calling
// the plug-in through g, and returns its base URL. It is as bare as the
// direct baseline's server: no middleware, so what it adds is the
// gateway.
func startGatewayFront(b testing.TB, g *gateway.Gateway) string {
	b.Helper()
	actor := platform.Actor{Kind: platform.ActorStaff, ID: "casey", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /vehicles/{plate}", func(w http.ResponseWriter, r *http.Request) {
		req := gatewayCall
		req.Path = map[string]string{"plate": r.PathValue("plate")}
		res, err := g.Call(r.Context(), actor, req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", res.ContentType)
		w.WriteHeader(res.Status)
		w.Write(res.Body)
	})
	return serveLoopback(b, mux)
}

// nginxConf is the reverse proxy: worker processes one per core, kept-alive
// connections to the upstream (HTTP/1.1 without "Connection: close"), no
// access log (the strongest nginx baseline; the gateway's audit entry is a
// durable, hash-chained database write, far more than a log line).
const nginxConf = `worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
%[4]s
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream plugin {
    server %[3]s;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:%[2]d;
    location / {
      proxy_pass http://plugin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`

// startNginx starts nginx on a free loopback port in front of upstream
// (an http://host:port URL) and returns its base URL; nginx is stopped
// when b ends, with its master process's id. It fails when nginx is not
// installed or does not start.
func startNginx(b *testing.B, upstream string) (string, int, error) {
	b.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			return "", 0, errors.New("not installed")
		}
	}
	dir := b.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		// As root, nginx's workers would switch to an unprivileged user
		// that cannot enter the temporary directory.
		user = "user root;"
	}
	var lastErr error
	for range 3 { // the port is picked, freed, then taken by nginx: retry a lost race
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, port, strings.TrimPrefix(upstream, "http://"), user), 0o600); err != nil {
			return "", 0, err
		}
		cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return "", 0, err
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		if err := waitListening(url, exited); err != nil {
			_ = cmd.Process.Kill()
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			lastErr = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(log)))
			continue
		}
		b.Cleanup(func() {
			// SIGQUIT: graceful stop of the master and its workers.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGQUIT)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		})
		return url, cmd.Process.Pid, nil
	}
	return "", 0, lastErr
}

// waitListening waits until url accepts TCP connections, or the process
// exits, or 10 seconds pass.
func waitListening(url string, exited <-chan error) error {
	addr := strings.TrimPrefix(url, "http://")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("nginx exited: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("nginx did not listen within 10s")
}

// The environment that makes this test binary the gateway's own process
// (startGatewayProcess, TestGatewayFrontProcess).
const (
	frontEnvDB     = "PORTICO_BENCH_GATEWAY_DB"
	frontEnvIssuer = "PORTICO_BENCH_GATEWAY_ISSUER"
	frontReady     = "gateway front listening at "
)

// startGatewayProcess starts this test binary again as the gateway front
// (TestGatewayFrontProcess) over the database at dbURL, which
// gatewaytest.New has set up, signing as issuer, and returns the front's
// base URL. The process ends when b does (its standard input closes).
func startGatewayProcess(b *testing.B, dbURL, issuer string) (string, int, error) {
	b.Helper()
	return startFrontProcess(b, "^TestGatewayFrontProcess$", frontEnvDB+"="+dbURL, frontEnvIssuer+"="+issuer)
}

// startFrontProcess starts this test binary again running only the test
// that run matches, with env added to its environment; that test prints
// frontReady and its base URL, then serves until its standard input
// closes, which happens when b ends. It returns the URL and the process's
// id.
func startFrontProcess(b *testing.B, run string, env ...string) (string, int, error) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, err
	}
	exited := make(chan error, 1)
	stop := func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), frontReady); ok {
				ready <- u
				break
			}
		}
		close(ready)
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	select {
	case u, ok := <-ready:
		if !ok {
			stop()
			return "", 0, errors.New("the process ended before it listened")
		}
		b.Cleanup(stop)
		return u, cmd.Process.Pid, nil
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-exited
		return "", 0, errors.New("the process did not listen within 2 minutes")
	}
}

// TestGatewayFrontProcess is not a test: it is the gateway front of
// BenchmarkGatewayHTTP's server=gateway-process, in a process of its own
// (startGatewayProcess). Run any other way it skips.
func TestGatewayFrontProcess(t *testing.T) {
	dbURL := os.Getenv(frontEnvDB)
	if dbURL == "" {
		t.Skip("the gateway front of BenchmarkGatewayHTTP; it runs only when the benchmark starts it")
	}
	db, err := storage.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	env := gatewaytest.Attach(t, db, os.Getenv(frontEnvIssuer))
	url := startGatewayFront(t, env.Gateway(t, gateway.Config{}))
	fmt.Printf("%s%s\n", frontReady, url)
	_, _ = io.Copy(io.Discard, os.Stdin) // serve until the benchmark closes stdin
}

// newGoProxy is the bare Go reverse proxy of server=goproxy: the
// standard library's ReverseProxy to upstream over kept-alive
// connections, enough idle ones per host for the benchmark's
// concurrency (the default of 2 would close and reopen connections, which
// nginx's keepalive 64 does not), and its copy buffers pooled (without a
// BufferPool it allocates 32 KiB per request), so that it is the best
// a Go proxy does, not a strawman.
func newGoProxy(upstream string) (http.Handler, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 256
	p := &httputil.ReverseProxy{
		Rewrite:    func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = r.In.Host },
		Transport:  tr,
		BufferPool: bufferPool{},
	}
	return p, nil
}

// bufferPool is httputil.BufferPool over a sync.Pool of 32 KiB buffers.
type bufferPool struct{}

var proxyBuffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (bufferPool) Get() []byte  { return proxyBuffers.Get().(*[32 << 10]byte)[:] }
func (bufferPool) Put(b []byte) { proxyBuffers.Put((*[32 << 10]byte)(b)) }

// serveLoopback serves h on a free loopback port until b ends and
// returns its base URL.
func serveLoopback(b testing.TB, h http.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// startGoProxy starts server=goproxy in the benchmark's process in front
// of upstream and returns its base URL.
func startGoProxy(b *testing.B, upstream string) string {
	b.Helper()
	h, err := newGoProxy(upstream)
	if err != nil {
		b.Fatal(err)
	}
	return serveLoopback(b, h)
}

// frontEnvProxy makes this test binary server=goproxy-process
// (TestGoProxyProcess): the upstream URL.
const frontEnvProxy = "PORTICO_BENCH_GOPROXY_UPSTREAM"

// startGoProxyProcess starts this test binary again as the Go proxy in
// front of upstream (TestGoProxyProcess) and returns its base URL.
func startGoProxyProcess(b *testing.B, upstream string) (string, int, error) {
	b.Helper()
	return startFrontProcess(b, "^TestGoProxyProcess$", frontEnvProxy+"="+upstream)
}

// TestGoProxyProcess is not a test: it is BenchmarkGatewayHTTP's
// server=goproxy-process (startGoProxyProcess). Run any other way it
// skips.
func TestGoProxyProcess(t *testing.T) {
	upstream := os.Getenv(frontEnvProxy)
	if upstream == "" {
		t.Skip("the Go proxy of BenchmarkGatewayHTTP; it runs only when the benchmark starts it")
	}
	h, err := newGoProxy(upstream)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", frontReady, serveLoopback(t, h))
	_, _ = io.Copy(io.Discard, os.Stdin) // serve until the benchmark closes stdin
}
