package notify_test

import (
	"bytes"
	"errors"
	"io"
	"log"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testServer is a real SMTP server (go-smtp) on the loopback interface that
// records every message it accepts. What it does with a recipient is chosen
// by the recipient's local part:
//
//	reject-rcpt@…  550 at RCPT TO (the mailbox does not exist)
//	reject-data@…  554 after DATA (the content is refused)
//	busy-N@…       451 at RCPT TO for the first N attempts, then accepted
//	anything else  accepted
//
// With credentials set it offers AUTH PLAIN and refuses mail from clients
// that did not authenticate.
type testServer struct {
	t    testing.TB
	addr string
	user string
	pass string

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	served   chan struct{}
	received []received
	attempts map[string]int // RCPT TO attempts per busy recipient
	sessions int            // connections accepted (SMTP sessions begun)
	open     int            // sessions not yet ended
	maxOpen  int            // most sessions open at once

	// holdAfter, when above 0, makes every message after the first
	// holdAfter accepted wait in DATA, unanswered, until release is
	// closed (the crash test kills its client then); held is closed when
	// the first one does.
	holdAfter     int
	held, release chan struct{}
}

// HoldAfter makes the server answer no message after the first n accepted
// until Release; the returned channel closes when one is held.
func (s *testServer) HoldAfter(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdAfter, s.held, s.release = n, make(chan struct{}), make(chan struct{})
	return s.held
}

// Release ends HoldAfter: the held messages are refused (421) and later
// ones accepted.
func (s *testServer) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holdAfter > 0 {
		s.holdAfter = 0
		close(s.release)
	}
}

// Sessions returns how many SMTP sessions the server has begun and the
// most it had open at once.
func (s *testServer) Sessions() (total, maxOpen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions, s.maxOpen
}

// received is one accepted message.
type received struct {
	From string
	To   []string
	Raw  []byte
	Msg  *mail.Message // parsed headers; Body reads Raw's body
}

func startTestServer(t testing.TB) *testServer {
	t.Helper()
	s := &testServer{t: t, attempts: map[string]int{}}
	s.listen("127.0.0.1:0")
	t.Cleanup(s.Stop)
	return s
}

func startAuthTestServer(t testing.TB, user, pass string) *testServer {
	t.Helper()
	s := &testServer{t: t, attempts: map[string]int{}, user: user, pass: pass}
	s.listen("127.0.0.1:0")
	t.Cleanup(s.Stop)
	return s
}

func (s *testServer) listen(addr string) {
	s.t.Helper()
	var ln net.Listener
	var err error
	// Restarting on the port just closed can briefly fail; retry a little.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("test SMTP server: %v", err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.open++
		s.maxOpen = max(s.maxOpen, s.open)
		s.mu.Unlock()
		return &testSession{server: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	s.mu.Lock()
	s.addr, s.srv, s.served, s.ln = ln.Addr().String(), srv, served, ln
	s.mu.Unlock()
}

// URL is the SMTP URL that reaches the server (with credentials if it
// requires them).
func (s *testServer) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.user != "" {
		return "smtp://" + s.user + ":" + s.pass + "@" + s.addr + "?auth=plain"
	}
	return "smtp://" + s.addr
}

// Stop shuts the server down; connections are refused until Start.
func (s *testServer) Stop() {
	s.mu.Lock()
	srv, served, ln := s.srv, s.served, s.ln
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	_ = ln.Close() // Close misses a listener Serve has not registered yet
	<-served
}

// Start brings a stopped server back on the same address.
func (s *testServer) Start() {
	s.mu.Lock()
	addr := s.addr
	s.mu.Unlock()
	s.listen(addr)
}

// Received returns the messages accepted so far.
func (s *testServer) Received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

// CountMessageID counts accepted messages whose Message-ID is <id>.
func (s *testServer) CountMessageID(id string) int {
	n := 0
	for _, r := range s.Received() {
		if r.Msg.Header.Get("Message-ID") == "<"+id+">" {
			n++
		}
	}
	return n
}

type testSession struct {
	server *testServer
	authed bool
	from   string
	to     []string
}

func (ts *testSession) AuthMechanisms() []string {
	if ts.server.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ts *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ts.server.user || pass != ts.server.pass {
			return smtp.ErrAuthFailed
		}
		ts.authed = true
		return nil
	}), nil
}

func (ts *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if ts.server.user != "" && !ts.authed {
		return smtp.ErrAuthRequired
	}
	ts.from = from
	return nil
}

func (ts *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	local := strings.ToLower(to[:max(0, strings.IndexByte(to, '@'))])
	switch {
	case local == "reject-rcpt":
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
	case strings.HasPrefix(local, "busy-"):
		n, _ := strconv.Atoi(strings.TrimPrefix(local, "busy-"))
		s := ts.server
		s.mu.Lock()
		s.attempts[to]++
		tries := s.attempts[to]
		s.mu.Unlock()
		if tries <= n {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Mailbox busy, try again later"}
		}
	}
	ts.to = append(ts.to, to)
	return nil
}

func (ts *testSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, to := range ts.to {
		if strings.HasPrefix(strings.ToLower(to), "reject-data@") {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Content refused"}
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return errors.New("unparseable message: " + err.Error())
	}
	s := ts.server
	s.mu.Lock()
	if s.holdAfter > 0 && len(s.received) >= s.holdAfter {
		held, release := s.held, s.release
		select {
		case <-held:
		default:
			close(held)
		}
		s.mu.Unlock()
		<-release
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Held, not accepted"}
	}
	s.received = append(s.received, received{From: ts.from, To: append([]string(nil), ts.to...), Raw: raw, Msg: msg})
	s.mu.Unlock()
	return nil
}

func (ts *testSession) Reset() { ts.from, ts.to = "", nil }
func (ts *testSession) Logout() error {
	ts.server.mu.Lock()
	ts.server.open--
	ts.server.mu.Unlock()
	return nil
}
