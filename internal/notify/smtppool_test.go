package notify_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/portico-gov/portico/internal/notify"
)

func poolMessage(t *testing.T, to string, i int) *mail.Msg {
	t.Helper()
	m := mail.NewMsg()
	if err := m.From("no-reply@example.gov"); err != nil {
		t.Fatal(err)
	}
	if err := m.To(to); err != nil {
		t.Fatal(err)
	}
	m.Subject(fmt.Sprintf("Message %d", i))
	m.SetMessageIDWithValue(fmt.Sprintf("pool-%d@example.gov", i))
	m.SetBodyString(mail.TypeTextPlain, "Hello.\n")
	return m
}

// TestSMTPPool checks, against a real SMTP server, that one connection
// carries many messages, that the pool never opens more connections than
// its bound however many senders there are, that a refused recipient
// leaves the connection usable, and that a connection the server dropped
// is replaced by a new one without losing the message.
func TestSMTPPool(t *testing.T) {
	cases := []struct {
		name    string
		size    int
		senders int
		run     func(t *testing.T, s *testServer, p *notify.SMTPPool, senders int)
		// wantSessions bounds the sessions the server saw; wantMaxOpen
		// the most open at once.
		wantSessions, wantMaxOpen int
		wantReceived              int
	}{
		{
			name: "one sender, one connection for every message", size: 4, senders: 1,
			wantSessions: 1, wantMaxOpen: 1, wantReceived: 50,
		},
		{
			name: "more senders than connections: never more than the bound", size: 3, senders: 12,
			wantSessions: 3, wantMaxOpen: 3, wantReceived: 50,
		},
		{
			name: "a refused recipient keeps the connection", size: 1, senders: 1,
			run: func(t *testing.T, s *testServer, p *notify.SMTPPool, _ int) {
				err := p.Send(context.Background(), poolMessage(t, "reject-rcpt@example.com", 1000))
				if err == nil || !notify.IsPermanent(err) {
					t.Fatalf("refused recipient: err = %v, want a permanent refusal", err)
				}
				if got := p.Idle(); got != 1 {
					t.Fatalf("after a refusal %d connections are idle, want the one kept", got)
				}
			},
			wantSessions: 1, wantMaxOpen: 1, wantReceived: 50,
		},
		{
			name: "a dropped connection is redialled", size: 2, senders: 1,
			run: func(t *testing.T, s *testServer, p *notify.SMTPPool, _ int) {
				s.Stop() // ends every session
				s.Start()
			},
			wantSessions: 2, wantMaxOpen: 1, wantReceived: 50,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startTestServer(t)
			target, err := notify.ParseSMTPURL(s.URL())
			if err != nil {
				t.Fatal(err)
			}
			p, err := notify.NewSMTPPool(target, 5*time.Second, c.size)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			send := func(from, to int) {
				var wg sync.WaitGroup
				next := make(chan int)
				errs := make(chan error, to-from)
				for range c.senders {
					wg.Go(func() {
						for i := range next {
							if err := p.Send(context.Background(), poolMessage(t, fmt.Sprintf("person%d@example.com", i), i)); err != nil {
								errs <- err
							}
						}
					})
				}
				for i := from; i < to; i++ {
					next <- i
				}
				close(next)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Errorf("send: %v", err)
				}
			}
			send(0, 25)
			if c.run != nil {
				c.run(t, s, p, c.senders)
			}
			send(25, 50)
			if got := len(s.Received()); got != c.wantReceived {
				t.Errorf("server accepted %d messages, want %d", got, c.wantReceived)
			}
			for i := range 50 {
				if n := s.CountMessageID(fmt.Sprintf("pool-%d@example.gov", i)); n != 1 {
					t.Errorf("message %d accepted %d times, want once", i, n)
				}
			}
			sessions, maxOpen := s.Sessions()
			if sessions > c.wantSessions || maxOpen > c.wantMaxOpen {
				t.Errorf("server saw %d sessions, %d open at once; want at most %d and %d", sessions, maxOpen, c.wantSessions, c.wantMaxOpen)
			}
		})
	}
}
