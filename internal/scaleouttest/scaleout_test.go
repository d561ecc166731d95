package scaleouttest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events/natsbus/natstest"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// Env is the variable that runs the scale-out test.
const Env = "PORTICO_TEST_SCALEOUT"

// busStream is the JetStream stream the replicas publish events to.
const busStream = "PORTICO_EVENTS"

// cluster is three replicas behind nginx and what they share.
type cluster struct {
	t        *testing.T
	bin      string
	env      []string
	base     string // nginx
	replicas []*replica
	mail     *mailServer
	nats     *natstest.Server
	s3       *objectStore
	db       *sql.DB
	// pg is the cluster's own PostgreSQL server, which the test restarts
	// and crashes; nil when it cannot start one (pgMissing says why) and
	// the cluster uses a database on the machine's server instead.
	pg        *pgServer
	pgMissing error
	adminURL  string // a database on the cluster's server other than its own
	notify    string // a live Notify API key
	testKey   string // a test Notify API key
	template  string
	payKey    string
	client    *http.Client
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil && !fileExists("/usr/sbin/nginx") {
		t.Fatalf("%s=1 needs nginx: apt-get install nginx-light", Env)
	}
	c := &cluster{t: t, client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	c.bin = buildPortico(t)
	var dbURL string
	if c.pg, c.pgMissing = startPostgres(t); c.pg != nil {
		dbURL, c.adminURL = c.pg.url("portico"), c.pg.url("postgres")
	} else {
		if os.Getenv(storagetest.PostgresEnv) == "" {
			t.Fatalf("%s=1 needs PostgreSQL: its server programs to start one (%v), or a server in %s", Env, c.pgMissing, storagetest.PostgresEnv)
		}
		dbURL, c.adminURL = storagetest.NewURL(t, storage.Postgres), os.Getenv(storagetest.PostgresEnv)
	}
	var err error
	if c.db, err = sql.Open("pgx", dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.db.Close() })
	c.mail = startMailServer(t)
	// NATS JetStream of the cluster's own (nats-server, embedded in the
	// test process, on loopback with a file store): the machine's NATS is
	// shared with other tests, and this one stops its server for a minute.
	c.nats = natstest.Start(t)
	proxyPort := freePort(t)
	c.base = fmt.Sprintf("http://127.0.0.1:%d", proxyPort)
	c.env = []string{
		"PORTICO_DB=" + dbURL,
		"PORTICO_KEY_URL=" + keyURL(t),
		"PORTICO_BUS=" + c.nats.URL(),
		"PORTICO_BUS_STREAM=" + busStream,
		"PORTICO_SMTP_URL=smtp://" + c.mail.addr + "?tls=none",
		"PORTICO_PUBLIC_URL=" + c.base,
		// The public URL is a loopback address, which has no mail domain.
		"PORTICO_MAIL_FROM=State of Example <no-reply@services.example.gov>",
		"PORTICO_TRUSTED_PROXIES=127.0.0.1/32",
		// Longer than nginx's upstream keepalive_timeout (2 s): a rolling
		// restart cuts no request (deploy/three-replicas/nginx.conf).
		"PORTICO_SHUTDOWN_DRAIN=3s",
		// A job left running by the killed replica is retried after
		// 80 s, not the default 10 minutes, so the test can wait for it.
		"PORTICO_JOB_TIMEOUT=20s",
		"PORTICO_JOB_RESCUE_AFTER=80s",
		"PORTICO_LOG_LEVEL=warn",
	}
	c.s3 = startObjectStore(t)
	c.env = append(c.env, c.s3.env...)
	c.env = append(c.env, "PORTICO_ATTACHMENTS="+c.s3.url, "PORTICO_AUDIT_ANCHOR="+c.s3.anchor)
	cli := append([]string{"PORTICO_DATA=" + t.TempDir()}, c.env...)
	seedDemo(t, c.bin, cli)
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

// citizenClient keeps a session's cookie and does not follow redirects.
func (c *cluster) citizenClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: c.client.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// form POSTs values to base+path as the person's browser would (same
// origin) and returns the status and where it redirects.
func form(hc *http.Client, base, path string, values url.Values) (int, string, error) {
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// signIn signs a demo citizen in through nginx; 303 is success.
func (c *cluster) signIn(hc *http.Client, email string) (int, error) {
	code, _, err := form(hc, c.base, "/sign-in", url.Values{"email": {email}, "password": {demo.CitizenPassword}})
	return code, err
}

// voterRegistration is the demo's one-page application (Ana's, after a
// move).
var voterRegistration = func() demo.DemoCase {
	for _, dc := range demo.Cases {
		if dc.Service == "adams-voter-registration" {
			return dc
		}
	}
	panic("the demo has no voter registration case")
}()

var revisionRE = regexp.MustCompile(`name="revision" value="(\d+)"`)

// apply starts, fills in and submits a voter registration as the signed-in
// person. It returns the application's id as soon as one exists, and
// whether the submission was acknowledged (303 to its confirmation page).
func (c *cluster) apply(hc *http.Client) (id, revision string, acknowledged bool, code int, err error) {
	dc := voterRegistration
	code, loc, err := form(hc, c.base, "/services/"+dc.Service+"/apply", nil)
	if err != nil {
		return "", "", false, code, err
	}
	// A new draft starts at its first page; the draft of an earlier
	// attempt whose submission failed resumes at its check page.
	resume := strings.HasSuffix(loc, "/check")
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/apply/") || !strings.Contains(loc, "/pages/") && !resume {
		return "", "", false, code, fmt.Errorf("start: %d to %q", code, loc)
	}
	app := strings.TrimSuffix(loc, "/check")
	if i := strings.Index(loc, "/pages/"); i > 0 {
		app = loc[:i]
	}
	id = strings.TrimPrefix(app, "/apply/")
	for _, p := range dc.Pages {
		if resume {
			break
		}
		if code, loc, err = form(hc, c.base, app+"/pages/"+p.ID, p.Form); err != nil {
			return id, "", false, code, err
		} else if code != http.StatusSeeOther || !strings.HasSuffix(loc, "/check") {
			return id, "", false, code, fmt.Errorf("page %s: %d to %q", p.ID, code, loc)
		}
	}
	req, _ := http.NewRequest("GET", c.base+app+"/check", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return id, "", false, 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := revisionRE.FindSubmatch(b)
	if resp.StatusCode != 200 || m == nil {
		return id, "", false, resp.StatusCode, nil
	}
	revision = string(m[1])
	code, loc, err = c.submit(hc, id, revision)
	if err == nil && (code != http.StatusSeeOther || !strings.HasSuffix(loc, "/done")) {
		err = fmt.Errorf("submit: %d to %q", code, loc)
	}
	return id, revision, err == nil, code, err
}

// submit sends application id at revision; sending it again is answered
// with its confirmation page, so a client whose answer was lost repeats it.
func (c *cluster) submit(hc *http.Client, id, revision string) (int, string, error) {
	return form(hc, c.base, "/apply/"+id+"/submit", url.Values{"revision": {revision}})
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
	apps      map[string]bool   // application id → acknowledged as submitted
	unsent    []unsent          // submissions whose answer was lost: sent again
	signIns   int
	reads     int
	limited   map[string]int // kind → requests refused 429 (a limit, not a failure)
	failures  map[string]int // kind → requests answered neither 2xx nor a limit
	codes     map[int]int    // status of each failure (0: no answer)
	failNotes []string
}

// startLoad runs, until finish, readers of a public page, senders of
// Notify emails, payers creating payments, and appliers: a citizen who
// signs in and submits three voter registrations per session. A person has
// one draft of a service at a time, so appliers beyond one would share
// Ana's drafts and refuse each other's stale submissions.
func (c *cluster) startLoad(readers, senders, payers, appliers int) *load {
	l := &load{c: c, stop: make(chan struct{}), tag: strconv.FormatInt(time.Now().UnixNano(), 36), emails: map[string]string{}, payments: map[string]string{},
		apps: map[string]bool{}, limited: map[string]int{}, failures: map[string]int{}, codes: map[int]int{}}
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
				// At most 20 a second each: the load stays under the
				// live key's 3,000 a minute, and every email is delivered
				// and counted.
				time.Sleep(50 * time.Millisecond)
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
	for range appliers {
		var hc *http.Client
		var left int
		run(func() {
			if left == 0 {
				hc = c.citizenClient()
				code, err := c.signIn(hc, voterRegistration.Email)
				if !l.note("sign-in", code2xx(code), err) {
					return
				}
				l.mu.Lock()
				l.signIns++
				l.mu.Unlock()
				left = 3
			}
			left--
			id, rev, ok, code, err := c.apply(hc)
			if ok {
				l.note("submission", 201, nil)
				l.mu.Lock()
				l.apps[id] = true
				l.mu.Unlock()
				return
			}
			l.note("submission", code, err)
			if rev != "" { // sent, answer lost or refused: the client sends it again
				l.mu.Lock()
				l.unsent = append(l.unsent, unsent{hc, id, rev})
				l.mu.Unlock()
			}
		})
	}
	return l
}

// code2xx counts a redirect after a form post as the success it is.
func code2xx(code int) int {
	if code == http.StatusSeeOther {
		return 200
	}
	return code
}

// unsent is a submission whose answer did not arrive.
type unsent struct {
	hc           *http.Client
	id, revision string
}

// note records one answer and reports whether it was a success. A 429 is
// the limit doing its job: it is counted apart, and the caller pauses as a
// well-behaved client would (the load's senders would otherwise spin on
// refusals and measure nothing but the limiter).
func (l *load) note(kind string, code int, err error) bool {
	l.mu.Lock()
	if kind == "read" && err == nil && code == 200 {
		l.reads++
		l.mu.Unlock()
		return true
	}
	if err == nil && (code == 200 || code == 201) {
		l.mu.Unlock()
		return true
	}
	pause := 100 * time.Millisecond // a client backs off after a failure
	if err == nil && code == 429 {
		l.limited[kind]++
		pause = time.Second
	} else {
		l.failures[kind]++
		l.codes[code]++
		// The first 20 failures, and the first few of each status beside
		// them: the rare one is the one to read.
		if len(l.failNotes) < 20 || l.codes[code] <= 3 {
			l.failNotes = append(l.failNotes, fmt.Sprintf("%s: %d %v", kind, code, err))
		}
	}
	l.mu.Unlock()
	select {
	case <-l.stop:
	case <-time.After(pause):
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
	return fmt.Sprintf("%d reads, %d sign-ins, %d submissions, %d emails and %d payments acknowledged; limited %v; failures %v %v",
		l.reads, l.signIns, len(l.apps), len(l.emails), len(l.payments), l.limited, l.failures, l.failNotes)
}

// settle retries the payments whose answers were lost with their own
// Idempotency-Key, as a client must, and then checks that every
// acknowledged email and payment is stored exactly once and every email
// was delivered, within the wait.
func (c *cluster) settle(t *testing.T, l *load, wait time.Duration) {
	t.Helper()
	for _, idem := range l.unsure {
		for try := 0; ; {
			code, id, err := c.createPayment(idem)
			if err == nil && (code == 200 || code == 201) {
				l.payments[idem] = id
				break
			}
			if err == nil && code == 429 { // the key's limit: wait, not a failed try
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if try++; try == 20 {
				t.Errorf("payment %s: retry with its key: %d %v", idem, code, err)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for _, u := range l.unsent {
		for try := 0; ; try++ {
			code, loc, err := c.submit(u.hc, u.id, u.revision)
			if err == nil && code == http.StatusSeeOther && strings.HasSuffix(loc, "/done") {
				l.apps[u.id] = true
				break
			}
			if try == 20 {
				t.Errorf("application %s: sent again: %d %q %v", u.id, code, loc, err)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for id := range l.apps {
		if n := c.count(t, `SELECT COUNT(*) FROM applications WHERE id = $1 AND status = 'submitted'`, id); n != 1 {
			t.Errorf("application %s acknowledged as submitted: %d submitted rows", id, n)
		}
		if n := c.count(t, `SELECT COUNT(*) FROM cases WHERE id = $1`, id); n != 1 {
			t.Errorf("application %s acknowledged as submitted: %d cases", id, n)
		}
	}
	for to, id := range l.emails {
		if n := c.count(t, `SELECT COUNT(*) FROM notifications WHERE recipient = $1`, to); n != 1 {
			t.Errorf("email to %s (acknowledged as %s) stored %d times", to, id, n)
		}
	}
	for idem, id := range l.payments {
		if n := c.count(t, `SELECT COUNT(*) FROM payments WHERE reference = $1`, idem); n != 1 {
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

// remindersDue is how many reminders the PostgreSQL subtest has sent
// across the crash: six send jobs of 100 (reminder.Config.SendBatch).
const remindersDue = 600

// importObligations loads n amounts the demo's two citizens owe the demo's
// county treasurer, due in three days, with `portico obligations import`:
// each has one reminder due at once (the one 7 days before), which the
// next sweep claims and sends. It returns the references' prefix.
func (c *cluster) importObligations(t *testing.T, n int) string {
	t.Helper()
	prefix := "SCALEOUT-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	var b strings.Builder
	b.WriteString("person,kind,amount,due,reference\n")
	due := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	people := []string{"ana.citizen@example.com", "beto.ciudadano@example.com"}
	for i := range n {
		fmt.Fprintf(&b, "%s,property_tax,%d.00,%s,%s%d\n", people[i%len(people)], 100+i, due, prefix, i)
	}
	path := filepath.Join(t.TempDir(), "obligations.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, c.bin, append([]string{"PORTICO_DATA=" + t.TempDir()}, c.env...), "obligations", "import", "--agency", "adams-treasurer", path)
	return prefix
}

// reminderWatch is the one of the demo's citizens whom only the
// imported reminders email (Ana also gets the load's submission mail).
const reminderWatch = "beto.ciudadano@example.com"

// waitRemindersDelivering waits until the SMTP server has received more
// messages for reminderWatch than before (a reminder's email: its batch
// delivery job is handing its emails to the server, and has not recorded
// them yet), and returns how many reminders are recorded sent then.
func (c *cluster) waitRemindersDelivering(t *testing.T, prefix string, before int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for c.mail.received(reminderWatch) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("no reminder email within %s of the import (the sweep runs every minute)", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM reminder_sends s JOIN obligations o ON o.id = s.obligation_id
		WHERE o.reference LIKE $1 AND s.outcome = 'sent'`, prefix+"%").Scan(&n)
	return n
}

// checkReminders waits until each of the n reminders is recorded sent and
// its email delivered, and checks that none was sent twice: one record per
// obligation (reminder_sends), and one message with its email's
// Message-ID.
func (c *cluster) checkReminders(t *testing.T, prefix string, n int, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		rows, err := c.db.Query(`SELECT s.obligation_id, s.notification_id FROM reminder_sends s JOIN obligations o ON o.id = s.obligation_id
			WHERE o.reference LIKE $1 AND s.outcome = 'sent'`, prefix+"%")
		if err != nil {
			t.Fatal(err)
		}
		perObligation := map[string]int{}
		var undelivered, twice []string
		for rows.Next() {
			var obligation, notification string
			if err := rows.Scan(&obligation, &notification); err != nil {
				t.Fatal(err)
			}
			perObligation[obligation]++
			switch m := c.mail.messages(notification); {
			case m == 0:
				undelivered = append(undelivered, notification)
			case m > 1:
				twice = append(twice, fmt.Sprintf("%s×%d", notification, m))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(perObligation) == n && len(undelivered) == 0 {
			ok := len(twice) == 0
			for o, k := range perObligation {
				if k > 1 {
					ok = false
					t.Errorf("obligation %s: %d reminders sent, want 1", o, k)
				}
			}
			if len(twice) > 0 {
				t.Errorf("%d reminder emails delivered more than once: %v", len(twice), twice[:min(len(twice), 10)])
			}
			if ok {
				t.Logf("%d reminders sent, each once, each email delivered once", n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s: %d of %d reminders sent, %d of their emails not delivered", wait, len(perObligation), n, len(undelivered))
			return
		}
		time.Sleep(time.Second)
	}
}

// outage is how long SMTP, NATS and the object store are down.
const outage = time.Minute

// checkStream waits until every event in the log is in the JetStream
// stream, and checks that none is there twice (the server drops a
// re-publish with the same Nats-Msg-Id inside its duplicate window).
func (c *cluster) checkStream(t *testing.T, wait time.Duration) {
	t.Helper()
	nc, err := nats.Connect(c.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait+time.Minute)
	defer cancel()
	deadline := time.Now().Add(wait)
	for {
		var logged []string
		rows, err := c.db.QueryContext(ctx, `SELECT event_id FROM event_log WHERE position IS NOT NULL`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			logged = append(logged, id)
		}
		rows.Close()
		seen := map[string]int{}
		cons, err := js.OrderedConsumer(ctx, busStream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for m := range batch.Messages() {
				seen[m.Headers().Get(nats.MsgIdHdr)]++
				n++
			}
			if n == 0 {
				break
			}
		}
		var missing, twice []string
		for _, id := range logged {
			switch seen[id] {
			case 0:
				missing = append(missing, id)
			case 1:
			default:
				twice = append(twice, id)
			}
		}
		if len(missing) == 0 {
			t.Logf("%d events in the log, all in the stream", len(logged))
			if len(twice) > 0 {
				t.Errorf("%d events published twice, e.g. %v", len(twice), twice[:min(5, len(twice))])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d of %d events in the log not in the stream after %s, e.g. %v", len(missing), len(logged), wait, missing[:min(5, len(missing))])
			return
		}
		time.Sleep(2 * time.Second)
	}
}

// count runs a COUNT query on the shared database, trying again for a
// while when the connection was cut (the PostgreSQL subtests cut this
// test's own connections too), and never waits unbounded.
func (c *cluster) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var err error
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var n int
		err = c.db.QueryRowContext(ctx, query, args...).Scan(&n)
		cancel()
		if err == nil {
			return n
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: %v", query, err)
	return 0
}

// TestThreeReplicas is the scale-out test. Its phases run one after the
// other on one cluster; each logs its numbers for docs/operations.md.
func TestThreeReplicas(t *testing.T) {
	if os.Getenv(Env) == "" {
		t.Skipf("scale-out test skipped: set %s=1 (with PostgreSQL's server programs initdb, pg_ctl and postgres, or a server in PORTICO_TEST_POSTGRES_URL, and nginx and versitygw installed; .ci/run does) to start three replicas behind nginx", Env)
	}
	start := time.Now()
	c := startCluster(t)
	t.Logf("cluster up in %s", time.Since(start).Round(time.Millisecond))

	t.Run("rate limit holds across replicas", func(t *testing.T) {
		// nginx spreads the calls over the three replicas; the limit (3,000
		// per minute per service and key type, Notify's) holds for all of
		// them together, where per-process counting allowed 9,000. The
		// test key's sends are not delivered: the load's live key has its
		// own count.
		var ok, limited, other atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 400 {
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
		t.Logf("3,200 sends: %d accepted, %d refused 429, %d other", ok.Load(), limited.Load(), other.Load())
		if ok.Load() != 3000 || limited.Load() != 200 {
			t.Fatalf("accepted %d and refused %d of 3,200 sends, want exactly 3,000 and 200 (other answers: %d)", ok.Load(), limited.Load(), other.Load())
		}
	})

	t.Run("a session made on one replica works on the others", func(t *testing.T) {
		hc := c.citizenClient()
		if code, err := c.signIn(hc, voterRegistration.Email); err != nil || code != http.StatusSeeOther {
			t.Fatalf("sign in through nginx: %d %v", code, err)
		}
		u, _ := url.Parse(c.base)
		cookies := hc.Jar.Cookies(u)
		for _, r := range c.replicas {
			// Straight to the replica, past nginx, with the cookie the
			// sign-in set: whichever replica made it, this one knows it.
			req, _ := http.NewRequest("GET", "http://"+r.addr+"/account?lang=en", nil)
			for _, ck := range cookies {
				req.AddCookie(ck)
			}
			resp, err := c.client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), voterRegistration.Email) {
				t.Errorf("%s: the account page with the session answered %d (shows the person's email: %v)", r.name, resp.StatusCode, strings.Contains(string(b), voterRegistration.Email))
			}
		}
		if len(cookies) == 0 {
			t.Fatal("the sign-in set no cookie")
		}
	})

	t.Run("kill -9 of a replica under mixed load", func(t *testing.T) {
		begin := time.Now()
		l := c.startLoad(4, 4, 2, 1)
		time.Sleep(4 * time.Second)
		c.replicas[1].stop(t, syscall.SIGKILL)
		time.Sleep(4 * time.Second)
		c.replicas[1].start(t)
		time.Sleep(2 * time.Second)
		l.finish()
		t.Logf("kill -9: %s in %s", l, time.Since(begin).Round(time.Millisecond))
		// An email whose delivery job was running on the killed replica
		// waits for the job to be rescued (PORTICO_JOB_RESCUE_AFTER, then
		// River's rescuer runs every 30 s).
		c.settle(t, l, 4*time.Minute)
		if l.failures["read"] > 0 {
			t.Errorf("reads failed while a replica was killed: nginx retries idempotent requests (%v)", l.failNotes)
		}
	})

	t.Run("rolling restart under load fails no request", func(t *testing.T) {
		begin := time.Now()
		l := c.startLoad(4, 3, 1, 1)
		// One at a time, as docs/operations.md says: stop, start, wait
		// until it is ready and nginx's fail_timeout has passed, so that
		// nginx is using it again before the next one stops.
		for _, r := range c.replicas {
			time.Sleep(time.Second)
			r.stop(t, syscall.SIGTERM)
			r.start(t)
			time.Sleep(failTimeout)
		}
		time.Sleep(time.Second)
		l.finish()
		t.Logf("rolling restart: %s in %s", l, time.Since(begin).Round(time.Millisecond))
		c.settle(t, l, 120*time.Second)
		if len(l.failures) > 0 {
			t.Errorf("requests failed during a rolling restart: %v", l.failNotes)
		}
	})

	t.Run("SMTP, NATS and the object store down for a minute delay work but lose none", func(t *testing.T) {
		begin := time.Now()
		c.mail.stop()
		c.nats.Stop()
		c.s3.stop()
		l := c.startLoad(1, 2, 1, 1)
		time.Sleep(outage)
		l.finish()
		t.Logf("SMTP, NATS and S3 stopped %s: %s", outage, l)
		c.mail.start()
		c.nats.Restart()
		c.s3.start()
		// The job queue retries with backoff; a minute of refusals can
		// push a job's next attempt a few minutes out.
		c.settle(t, l, 5*time.Minute)
		c.checkStream(t, 2*time.Minute)
		t.Logf("every acknowledged email delivered and every event published %s after the outage began", time.Since(begin).Round(time.Second))
		if len(l.failures) > 0 {
			t.Errorf("requests refused while SMTP, NATS and S3 were down: %v", l.failNotes)
		}
	})

	t.Run("PostgreSQL connections cut under load", func(t *testing.T) {
		// The safe stand-in for a PostgreSQL restart that other tests on
		// the same server allow: every connection to this database is
		// terminated, as a restart does, while the load runs.
		begin := time.Now()
		l := c.startLoad(2, 2, 1, 1)
		time.Sleep(2 * time.Second)
		admin, err := sql.Open("pgx", c.adminURL)
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
		// While the database is away a request may fail, but only as
		// "unavailable, try again": Portico's 503 with Retry-After, or
		// nginx's 502 when every replica has just answered 503.
		for code, n := range l.codes {
			if code != http.StatusServiceUnavailable && code != http.StatusBadGateway {
				t.Errorf("%d requests answered %d while PostgreSQL's connections were cut", n, code)
			}
		}
	})
	t.Run("PostgreSQL restarted and crashed under load", func(t *testing.T) {
		if c.pg == nil {
			t.Skipf("no PostgreSQL server of the test's own to restart (%v); the cluster runs on %s's server, which other tests share", c.pgMissing, storagetest.PostgresEnv)
		}
		begin := time.Now()
		// Reminders due at once, which the next sweep (every minute, on
		// the leader) sends while the server is crashed.
		watched := c.mail.received(reminderWatch)
		reminders := c.importObligations(t, remindersDue)
		l := c.startLoad(2, 2, 1, 1)
		time.Sleep(2 * time.Second)
		// An operator's restart (pg_ctl restart -m fast): the server
		// disconnects every client, writes a checkpoint and starts again.
		fast := c.pg.restart("fast", 0)
		// A crash (-m immediate: every server process quits at once, no
		// checkpoint) as soon as the SMTP server receives the first
		// reminder email: a batch delivery job is then between handing
		// its emails over and recording them (the window in which a lost
		// record sends them again). Down for 2 s, then a start that
		// recovers from the write-ahead log.
		time.Sleep(4 * time.Second)
		sweep := c.waitRemindersDelivering(t, reminders, watched, 75*time.Second)
		crash := c.pg.restart("immediate", 2*time.Second)
		time.Sleep(4 * time.Second)
		l.finish()
		t.Logf("PostgreSQL restarted (-m fast, no query for %s) and crashed (-m immediate, no query for %s; at the first reminder email, %d of %d reminders recorded sent): %s in %s",
			fast.Round(time.Millisecond), crash.Round(time.Millisecond), sweep, remindersDue, l, time.Since(begin).Round(time.Millisecond))
		for _, r := range c.replicas {
			waitReady(t, "http://"+r.addr+"/readyz", 30*time.Second)
		}
		// A job whose completion River could not record while the server
		// was down stays "running" until it is rescued
		// (PORTICO_JOB_RESCUE_AFTER, then the rescuer's 30 s): its work
		// is recorded, so the rescue repeats nothing.
		c.settle(t, l, 4*time.Minute)
		c.checkReminders(t, reminders, remindersDue, 3*time.Minute)
		c.checkStream(t, 2*time.Minute)
		for code, n := range l.codes {
			if code != http.StatusServiceUnavailable && code != http.StatusBadGateway {
				t.Errorf("%d requests answered %d while PostgreSQL restarted or recovered from a crash", n, code)
			}
		}
		if !t.Failed() {
			t.Logf("every acknowledged write stored once, every email delivered once and every event published %s after the restart began", time.Since(begin).Round(time.Second))
		}
	})
	t.Run("periodic jobs ran once a minute", func(t *testing.T) {
		// The leader changed with every kill, restart and database
		// outage above; a new leader inserts the periodic jobs at once
		// (RunOnStart), and an insert of a kind already inserted in the
		// same minute is skipped (internal/jobs.Every), so no minute has
		// two.
		// The minute is the one the job was inserted for (River's unique
		// key: its scheduled time, truncated). A retry or a rescue moves
		// scheduled_at on and records an error; such a job's insertion
		// time stands for it (the enqueuer inserts at the time planned).
		rows, err := c.db.Query(`SELECT kind, date_trunc('minute', CASE WHEN COALESCE(array_length(errors, 1), 0) = 0 THEN scheduled_at ELSE created_at END) AS minute,
			COUNT(*), string_agg(state || '/' || attempt || '@' || to_char(created_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS'), ' ')
			FROM river_job WHERE kind IN ('audit.checkpoint', 'casework.sla', 'reminder_sweep', 'payment.settle')
			GROUP BY 1, 2 ORDER BY 1, 2`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		minutes := map[string]int{}
		for rows.Next() {
			var kind, jobs string
			var minute time.Time
			var n int
			if err := rows.Scan(&kind, &minute, &n, &jobs); err != nil {
				t.Fatal(err)
			}
			minutes[kind]++
			if n > 1 {
				t.Errorf("%s inserted %d times in the minute of %s (state/attempt@created: %s)", kind, n, minute.UTC().Format(time.TimeOnly), jobs)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("minutes with a periodic job, by kind: %v", minutes)
		if minutes["reminder_sweep"] == 0 {
			t.Errorf("no reminder sweep in a test that ran %s", time.Since(start).Round(time.Second))
		}
	})
	t.Run("the audit log verifies", func(t *testing.T) {
		// Every replica appended to the hash-chained log; the leaders of
		// the test's minutes signed checkpoints and anchored them in the
		// object store, which was down for a minute of it.
		runCLI(t, c.bin, append([]string{"PORTICO_DATA=" + t.TempDir()}, c.env...), "audit", "checkpoint")
		out := runCLI(t, c.bin, append([]string{"PORTICO_DATA=" + t.TempDir()}, c.env...), "audit", "verify")
		t.Logf("audit verify: %s", strings.TrimSpace(out))
	})
	t.Logf("scale-out test took %s", time.Since(start).Round(time.Second))
}
