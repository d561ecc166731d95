package scaleouttest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// Env is the variable that runs the scale-out test.
const Env = "PORTICO_TEST_SCALEOUT"

// cluster is three replicas behind nginx and what they share.
type cluster struct {
	t        *testing.T
	bin      string
	env      []string
	base     string // nginx
	replicas []*replica
	mail     *mailServer
	db       *sql.DB
	notify   string // a live Notify API key
	testKey  string // a test Notify API key
	template string
	payKey   string
	client   *http.Client
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	for _, v := range []string{storagetest.PostgresEnv, "PORTICO_TEST_NATS_URL"} {
		if os.Getenv(v) == "" {
			t.Fatalf("%s=1 needs %s", Env, v)
		}
	}
	if _, err := exec.LookPath("nginx"); err != nil && !fileExists("/usr/sbin/nginx") {
		t.Fatalf("%s=1 needs nginx: apt-get install nginx-light", Env)
	}
	c := &cluster{t: t, client: &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	c.bin = buildPortico(t)
	dbURL := storagetest.NewURL(t, storage.Postgres)
	var err error
	if c.db, err = sql.Open("pgx", dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.db.Close() })
	c.mail = startMailServer(t)
	proxyPort := freePort(t)
	c.base = fmt.Sprintf("http://127.0.0.1:%d", proxyPort)
	c.env = []string{
		"PORTICO_DB=" + dbURL,
		"PORTICO_KEY_URL=" + keyURL(t),
		"PORTICO_BUS=" + os.Getenv("PORTICO_TEST_NATS_URL"),
		"PORTICO_BUS_STREAM=SCALEOUT" + strings.ToUpper(fmt.Sprint(time.Now().UnixNano()%1e9)),
		"PORTICO_SMTP_URL=smtp://" + c.mail.addr + "?tls=none",
		"PORTICO_PUBLIC_URL=" + c.base,
		// The public URL is a loopback address, which has no mail domain.
		"PORTICO_MAIL_FROM=State of Example <no-reply@services.example.gov>",
		"PORTICO_TRUSTED_PROXIES=127.0.0.1/32",
		"PORTICO_NOTIFY_RATE_LIMIT=40",
		"PORTICO_LOG_LEVEL=warn",
	}
	if s3 := startObjectStore(t, os.Getenv("CI") != ""); s3 != nil {
		c.env = append(c.env, s3.env...)
		c.env = append(c.env, "PORTICO_ATTACHMENTS="+s3.url)
	} else {
		t.Log("versitygw is not installed: attachments stay on each replica's disk in this run")
	}
	cli := append([]string{"PORTICO_DATA=" + t.TempDir()}, c.env...)
	runCLI(t, c.bin, cli, "migrate")
	runCLI(t, c.bin, cli, "jurisdiction", "create", "--id", "example", "--kind", "state", "--name", "State of Example")
	runCLI(t, c.bin, cli, "agency", "create", "--id", "dmv", "--jurisdiction", "example", "--name", "Motor Vehicles")
	out := runCLI(t, c.bin, cli, "notify", "template", "create", "--agency", "dmv", "--type", "email", "--name", "Reminder", "--subject", "Reminder ((n))", "--body", "Your renewal is due ((n)).")
	if m := regexp.MustCompile(`Template id: (\S+)`).FindStringSubmatch(out); m != nil {
		c.template = m[1]
	} else {
		t.Fatalf("template id not printed:\n%s", out)
	}
	c.notify = jsonKey(t, runCLI(t, c.bin, cli, "notify", "key", "create", "--agency", "dmv", "--name", "load", "--type", "live", "--json"))
	c.testKey = jsonKey(t, runCLI(t, c.bin, cli, "notify", "key", "create", "--agency", "dmv", "--name", "limits", "--type", "test", "--json"))
	c.payKey = jsonKey(t, runCLI(t, c.bin, cli, "payments", "key", "create", "--agency", "dmv", "--json"))

	var upstreams []string
	for i := range 3 {
		r := &replica{name: fmt.Sprintf("replica-%d", i+1), addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), bin: c.bin}
		r.env = append([]string{"PORTICO_DATA=" + t.TempDir()}, c.env...)
		f, err := os.Create(fmt.Sprintf("%s/%s.log", t.TempDir(), r.name))
		if err != nil {
			t.Fatal(err)
		}
		r.log = f
		c.replicas = append(c.replicas, r)
		upstreams = append(upstreams, r.addr)
	}
	t.Cleanup(func() {
		for _, r := range c.replicas {
			r.stop(t, syscall.SIGTERM)
		}
		if t.Failed() {
			for _, r := range c.replicas {
				b, _ := os.ReadFile(r.log.Name())
				if len(b) > 8000 {
					b = b[len(b)-8000:]
				}
				t.Logf("--- %s log (end):\n%s", r.name, b)
			}
		}
	})
	for _, r := range c.replicas {
		r.start(t)
	}
	startNginx(t, proxyPort, upstreams)
	waitReady(t, c.base+"/readyz", 30*time.Second)
	return c
}

func jsonKey(t *testing.T, out string) string {
	t.Helper()
	var v struct{ Key string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Key == "" {
		t.Fatalf("no key in %q: %v", out, err)
	}
	return v.Key
}

// notifyAuth is a GOV.UK Notify client's Authorization header for key.
func notifyAuth(key string) string {
	secret := key[len(key)-36:]
	service := key[len(key)-73 : len(key)-37]
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": time.Now().Unix()}).SignedString([]byte(secret))
	return "Bearer " + tok
}

// sendEmail asks the Notify API, through nginx, to email to. It returns
// the notification id when the send was acknowledged (201).
func (c *cluster) sendEmail(key, to string) (int, string, error) {
	body, _ := json.Marshal(map[string]any{"email_address": to, "template_id": c.template, "personalisation": map[string]any{"n": to}})
	req, _ := http.NewRequest("POST", c.base+"/v2/notifications/email", bytes.NewReader(body))
	req.Header.Set("Authorization", notifyAuth(key))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var v struct{ ID string }
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &v)
	return resp.StatusCode, v.ID, nil
}

// createPayment creates a test payment with an Idempotency-Key and returns
// its id when acknowledged (201, or 200 for a replay of the same key).
func (c *cluster) createPayment(idem string) (int, string, error) {
	body, _ := json.Marshal(map[string]any{"amount": 2500, "reference": idem, "description": "Renewal fee", "return_url": "https://example.gov/done"})
	req, _ := http.NewRequest("POST", c.base+"/v1/payments", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.payKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idem)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var v struct {
		PaymentID string `json:"payment_id"`
	}
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &v)
	return resp.StatusCode, v.PaymentID, nil
}

func (c *cluster) get(path string) (int, error) {
	resp, err := c.client.Get(c.base + path)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// load is a mixed load through nginx that records every acknowledgement.
type load struct {
	c    *cluster
	stop chan struct{}
	wg   sync.WaitGroup
	seq  atomic.Int64
	tag  string // unique per load: its recipients are its own, not an earlier subtest's

	mu        sync.Mutex
	emails    map[string]string // recipient → notification id, acknowledged
	payments  map[string]string // idempotency key → payment id, acknowledged
	unsure    []string          // payments whose answer was lost: retried with the same key
	reads     int
	failures  map[string]int // kind → requests answered neither 2xx nor a limit
	failNotes []string
}

func (c *cluster) startLoad(readers, senders, payers int) *load {
	l := &load{c: c, stop: make(chan struct{}), tag: strconv.FormatInt(time.Now().UnixNano(), 36), emails: map[string]string{}, payments: map[string]string{}, failures: map[string]int{}}
	run := func(f func()) {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				f()
			}
		}()
	}
	for range readers {
		run(func() {
			code, err := c.get("/services?q=renew")
			l.note("read", code, err)
		})
	}
	for range senders {
		run(func() {
			to := fmt.Sprintf("person-%s-%d@example.gov", l.tag, l.seq.Add(1))
			code, id, err := c.sendEmail(c.notify, to)
			if l.note("notify send", code, err) {
				l.mu.Lock()
				l.emails[to] = id
				l.mu.Unlock()
			}
		})
	}
	for range payers {
		run(func() {
			idem := fmt.Sprintf("scaleout-%s-%d", l.tag, l.seq.Add(1))
			code, id, err := c.createPayment(idem)
			if l.note("payment create", code, err) {
				l.mu.Lock()
				l.payments[idem] = id
				l.mu.Unlock()
				return
			}
			l.mu.Lock()
			l.unsure = append(l.unsure, idem)
			l.mu.Unlock()
		})
	}
	return l
}

// note records one answer and reports whether it was a success.
func (l *load) note(kind string, code int, err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if kind == "read" && err == nil && code == 200 {
		l.reads++
		return true
	}
	if err == nil && (code == 200 || code == 201) {
		return true
	}
	l.failures[kind]++
	if len(l.failNotes) < 20 {
		l.failNotes = append(l.failNotes, fmt.Sprintf("%s: %d %v", kind, code, err))
	}
	return false
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d reads, %d emails and %d payments acknowledged; failures %v %v", l.reads, len(l.emails), len(l.payments), l.failures, l.failNotes)
}

// settle retries the payments whose answers were lost with their own
// Idempotency-Key, as a client must, and then checks that every
// acknowledged email and payment is stored exactly once and every email
// was delivered, within the wait.
func (c *cluster) settle(t *testing.T, l *load, wait time.Duration) {
	t.Helper()
	for _, idem := range l.unsure {
		for try := 0; ; try++ {
			code, id, err := c.createPayment(idem)
			if err == nil && (code == 200 || code == 201) {
				l.payments[idem] = id
				break
			}
			if try == 20 {
				t.Errorf("payment %s: retry with its key: %d %v", idem, code, err)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	ctx := context.Background()
	for to, id := range l.emails {
		var n int
		if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE recipient = $1`, to).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("email to %s (acknowledged as %s) stored %d times", to, id, n)
		}
	}
	for idem, id := range l.payments {
		var n int
		if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE reference = $1`, idem).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("payment %s (acknowledged as %s) stored %d times", idem, id, n)
		}
	}
	deadline := time.Now().Add(wait)
	for {
		got := c.mail.counts()
		var missing, twice []string
		for to := range l.emails {
			switch n := got[to]; {
			case n == 0:
				missing = append(missing, to)
			case n > 1:
				twice = append(twice, fmt.Sprintf("%s×%d", to, n))
			}
		}
		if len(missing) == 0 {
			if len(twice) > 0 {
				t.Errorf("%d emails delivered more than once: %v", len(twice), twice[:min(len(twice), 10)])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d of %d acknowledged emails not delivered within %s (e.g. %v)", len(missing), len(l.emails), wait, missing[:min(len(missing), 5)])
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestThreeReplicas is the scale-out test. Its phases run one after the
// other on one cluster; each logs its numbers for docs/operations.md.
func TestThreeReplicas(t *testing.T) {
	if os.Getenv(Env) == "" {
		t.Skipf("scale-out test skipped: set %s=1 (with PostgreSQL, NATS, nginx and versitygw; .ci/run does) to start three replicas behind nginx", Env)
	}
	start := time.Now()
	c := startCluster(t)
	t.Logf("cluster up in %s", time.Since(start).Round(time.Millisecond))

	t.Run("rate limit holds across replicas", func(t *testing.T) {
		// nginx spreads the calls over the three replicas; the limit (40
		// per minute per service and key type) holds for all of them
		// together, where per-process counting allowed 120.
		var ok, limited, other atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 15 {
					code, _, err := c.sendEmail(c.testKey, fmt.Sprintf("limit-%d-%d@example.gov", i, j))
					switch {
					case err == nil && code == 201:
						ok.Add(1)
					case err == nil && code == 429:
						limited.Add(1)
					default:
						other.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("120 sends: %d accepted, %d refused 429, %d other", ok.Load(), limited.Load(), other.Load())
		if ok.Load() != 40 || limited.Load() != 80 {
			t.Fatalf("accepted %d and refused %d of 120 sends, want exactly 40 and 80 (other answers: %d)", ok.Load(), limited.Load(), other.Load())
		}
	})

	t.Run("kill -9 of a replica under mixed load", func(t *testing.T) {
		begin := time.Now()
		l := c.startLoad(4, 4, 2)
		time.Sleep(4 * time.Second)
		c.replicas[1].stop(t, syscall.SIGKILL)
		time.Sleep(4 * time.Second)
		c.replicas[1].start(t)
		time.Sleep(2 * time.Second)
		l.finish()
		t.Logf("kill -9: %s in %s", l, time.Since(begin).Round(time.Millisecond))
		c.settle(t, l, 120*time.Second)
		if l.failures["read"] > 0 {
			t.Errorf("reads failed while a replica was killed: nginx retries idempotent requests (%v)", l.failNotes)
		}
	})

	t.Run("rolling restart under load fails no request", func(t *testing.T) {
		begin := time.Now()
		l := c.startLoad(4, 3, 1)
		for _, r := range c.replicas {
			time.Sleep(time.Second)
			r.stop(t, syscall.SIGTERM)
			r.start(t)
		}
		time.Sleep(time.Second)
		l.finish()
		t.Logf("rolling restart: %s in %s", l, time.Since(begin).Round(time.Millisecond))
		c.settle(t, l, 120*time.Second)
		if len(l.failures) > 0 {
			t.Errorf("requests failed during a rolling restart: %v", l.failNotes)
		}
	})

	t.Run("SMTP down delays mail but loses none", func(t *testing.T) {
		begin := time.Now()
		c.mail.stop()
		l := c.startLoad(0, 3, 0)
		time.Sleep(15 * time.Second)
		l.finish()
		if got := len(c.mail.counts()); got < 0 {
			t.Fatal(got)
		}
		c.mail.start()
		t.Logf("SMTP stopped 15 s: %s", l)
		// The job queue retries with backoff; 15 s of refusals can push a
		// job's next attempt a minute or more out.
		c.settle(t, l, 4*time.Minute)
		t.Logf("every acknowledged email delivered %s after the SMTP server stopped", time.Since(begin).Round(time.Second))
		if len(l.failures) > 0 {
			t.Errorf("sends refused while SMTP was down: %v", l.failNotes)
		}
	})

	t.Run("PostgreSQL connections cut under load", func(t *testing.T) {
		// The safe stand-in for a PostgreSQL restart that other tests on
		// the same server allow: every connection to this database is
		// terminated, as a restart does, while the load runs.
		begin := time.Now()
		l := c.startLoad(2, 2, 1)
		time.Sleep(2 * time.Second)
		admin, err := sql.Open("pgx", os.Getenv(storagetest.PostgresEnv))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		var name string
		c.db.QueryRow(`SELECT current_database()`).Scan(&name)
		var cut int
		for range 3 {
			var n int
			admin.QueryRow(`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name).Scan(&n)
			cut += n
			time.Sleep(300 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
		l.finish()
		t.Logf("PostgreSQL connections cut (%d): %s in %s", cut, l, time.Since(begin).Round(time.Millisecond))
		c.settle(t, l, 120*time.Second)
		for _, r := range c.replicas {
			waitReady(t, "http://"+r.addr+"/readyz", 30*time.Second)
		}
	})
	t.Logf("scale-out test took %s", time.Since(start).Round(time.Second))
}
