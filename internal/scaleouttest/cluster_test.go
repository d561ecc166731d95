package scaleouttest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// listening reports whether a loopback port accepts connections within the
// wait.
func listening(port int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// moduleRoot is the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// buildPortico builds the binary once for every replica.
func buildPortico(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "portico")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/portico")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// keyURL is a fresh base64key:// URL: the one key every process of the
// installation shares (docs/operations.md, "Keys").
func keyURL(t *testing.T) string {
	b := make([]byte, 32)
	rand.Read(b)
	return "base64key://" + base64.URLEncoding.EncodeToString(b)
}

// runCLI runs one portico command with env and returns its stdout.
func runCLI(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("portico %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// seedDemo runs `portico demo` on the cluster's database until it is ready,
// then stops it: the demo's people (citizens with a password, staff),
// agencies and services, made by the code an operator trying the scale-out
// path runs (docs/operations.md).
func seedDemo(t *testing.T, bin string, env []string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	r := &replica{name: "demo seeding", addr: addr, bin: bin, env: env, args: []string{"demo", "--addr", addr}}
	f, err := os.Create(filepath.Join(t.TempDir(), "demo.log"))
	if err != nil {
		t.Fatal(err)
	}
	r.log = f
	r.start(t)
	r.stop(t, syscall.SIGTERM)
}

// replica is one `portico serve` process.
type replica struct {
	name string
	addr string
	bin  string
	args []string // default: serve --addr addr
	env  []string
	log  *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error
}

func (r *replica) start(t *testing.T) {
	t.Helper()
	args := r.args
	if args == nil {
		args = []string{"serve", "--addr", r.addr}
	}
	cmd := exec.Command(r.bin, args...)
	cmd.SysProcAttr = childAttr()
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", r.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	waitReady(t, "http://"+r.addr+"/readyz", 180*time.Second)
}

// stop sends sig and waits for the process to end.
func (r *replica) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("%s did not stop within 60 s of %v", r.name, sig)
	}
}

// waitReady polls url until it answers 200.
func waitReady(t *testing.T, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not ready within %s: %s", url, within, last)
}

// failTimeout is how long nginx leaves a replica out after a failed
// connection (deploy/three-replicas/nginx.conf).
const failTimeout = 2 * time.Second

// startNginx writes a config in the shape of deploy/three-replicas/nginx.conf
// (plain HTTP on loopback) and runs nginx in the foreground.
func startNginx(t *testing.T, port int, upstreams []string) {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o777) // the worker user writes its temporary files here
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "        server %s max_fails=1 fail_timeout=%ds;\n", u, int(failTimeout/time.Second))
	}
	conf := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    upstream portico_replicas {
%[2]s        keepalive 64;
        keepalive_timeout 2s;
    }
    client_max_body_size 25m;
    server {
        listen 127.0.0.1:%[3]d;
        location / {
            proxy_pass http://portico_replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }
    }
}
`, dir, servers.String(), port)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-g", "daemon off;")
	cmd.SysProcAttr = childAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- nginx error.log (end):\n%s", b)
		}
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	if listening(port, 20*time.Second) {
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("nginx did not listen: %s\n%s", out.String(), b)
}

// mailServer is a real SMTP server (go-smtp) on a fixed loopback port that
// counts messages per recipient. stop and start close and reopen the port,
// as an SMTP relay that is down for a while.
type mailServer struct {
	t    *testing.T
	addr string

	mu   sync.Mutex
	srv  *smtp.Server
	rcpt map[string]int
	ids  map[string]int // Message-ID's left part (a notification id) → messages
}

func startMailServer(t *testing.T) *mailServer {
	m := &mailServer{t: t, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), rcpt: map[string]int{}, ids: map[string]int{}}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *mailServer) start() {
	m.t.Helper()
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", m.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		m.t.Fatalf("smtp: listen %s: %v", m.addr, err)
	}
	s := smtp.NewServer(mailBackend{m})
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	s.ReadTimeout, s.WriteTimeout = 30*time.Second, 30*time.Second
	m.mu.Lock()
	m.srv = s
	m.mu.Unlock()
	go s.Serve(ln)
}

func (m *mailServer) stop() {
	m.mu.Lock()
	s := m.srv
	m.srv = nil
	m.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

// counts returns how many messages each recipient received.
func (m *mailServer) counts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.rcpt))
	for k, v := range m.rcpt {
		out[k] = v
	}
	return out
}

type mailBackend struct{ m *mailServer }

func (b mailBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &mailSession{m: b.m}, nil
}

type mailSession struct {
	m  *mailServer
	to []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, strings.ToLower(to))
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	br := bufio.NewReader(r)
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return err
	}
	// Every attempt to deliver a notification carries the same
	// Message-ID, <notification id@domain>.
	id, _, _ := strings.Cut(strings.Trim(h.Get("Message-Id"), "<> "), "@")
	s.m.mu.Lock()
	for _, to := range s.to {
		s.m.rcpt[to]++
	}
	if id != "" {
		s.m.ids[id]++
	}
	s.m.mu.Unlock()
	return nil
}

// received returns how many messages rcpt received.
func (m *mailServer) received(rcpt string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rcpt[rcpt]
}

// messages returns how many messages carried the Message-ID of notification id.
func (m *mailServer) messages(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ids[id]
}
func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

// objectStore is versitygw (ADR 58) serving a directory over the S3 API on
// loopback: bucket "portico" for attachments, "anchor" for the audit
// anchor. stop and start end and restart the process on the same port and
// directory, as an object store that is down for a while.
type objectStore struct {
	t    *testing.T
	bin  string
	port int
	root string
	url  string // the s3:// URL of the attachments bucket
	// anchor is the s3:// URL of the audit anchor bucket
	anchor string
	env    []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  bytes.Buffer
}

// startObjectStore starts versitygw with its posix back end.
func startObjectStore(t *testing.T) *objectStore {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		if bin = filepath.Join(os.Getenv("HOME"), "go", "bin", "versitygw"); !fileExists(bin) {
			t.Fatalf("%s=1 needs versitygw: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0", Env)
		}
	}
	o := &objectStore{t: t, bin: bin, root: t.TempDir(), port: freePort(t)}
	for _, bucket := range []string{"portico", "anchor"} {
		if err := os.Mkdir(filepath.Join(o.root, bucket), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s3url := func(bucket string) string {
		return fmt.Sprintf("s3://%s?endpoint=http://127.0.0.1:%d&region=us-east-1&use_path_style=true", bucket, o.port)
	}
	o.url, o.anchor = s3url("portico"), s3url("anchor")
	o.env = []string{"AWS_ACCESS_KEY_ID=scaleout", "AWS_SECRET_ACCESS_KEY=scaleout-secret-key", "AWS_REGION=us-east-1"}
	o.start()
	t.Cleanup(o.stop)
	return o
}

func (o *objectStore) start() {
	o.t.Helper()
	cmd := exec.Command(o.bin, "--access", "scaleout", "--secret", "scaleout-secret-key", "--port", fmt.Sprintf("127.0.0.1:%d", o.port), "posix", o.root)
	cmd.SysProcAttr = childAttr()
	o.out.Reset()
	cmd.Stdout, cmd.Stderr = &o.out, &o.out
	if err := cmd.Start(); err != nil {
		o.t.Fatalf("versitygw: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	o.mu.Lock()
	o.cmd, o.done = cmd, done
	o.mu.Unlock()
	if listening(o.port, 20*time.Second) {
		return
	}
	o.t.Fatalf("versitygw did not listen: %s", o.out.String())
}

func (o *objectStore) stop() {
	o.mu.Lock()
	cmd, done := o.cmd, o.done
	o.cmd = nil
	o.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
