package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// smtpPool keeps up to size connections to one SMTP server open and lends
// each to one sender at a time, so that one connection carries many
// messages (ADR 61): the TCP handshake, greeting, EHLO, STARTTLS and AUTH
// are paid once per connection instead of once per email.
//
// The SMTP session semantics are go-mail's: after each message go-mail
// sends RSET, so a lent connection always starts a fresh mail transaction.
// A connection that fails in any way other than the server refusing one
// recipient or message (a 5xx or 4xx reply to RCPT TO or DATA, after which
// go-mail has reset the session) is closed and never lent again; the next
// send dials a new one. A connection idle for longer than idleCheck is
// probed with NOOP before it is used, and one idle for longer than
// maxIdle, or that has carried maxMessages, is closed with QUIT.
//
// The pool is safe for concurrent use. Senders beyond size wait for a
// connection (or for ctx), which bounds what one process asks of the
// server however many workers it runs.
type smtpPool struct {
	client      *mail.Client // configuration and dialling; never holds a connection itself
	size        int
	maxIdle     time.Duration
	idleCheck   time.Duration
	maxMessages int
	now         func() time.Time

	slots chan struct{} // a token per connection that may be open

	mu     sync.Mutex
	idle   []*pooledConn // most recently returned last
	closed bool
}

type pooledConn struct {
	c        *smtp.Client
	lastUsed time.Time
	sent     int
}

// Pool defaults.
const (
	defaultSMTPConnections = 8
	smtpMaxIdle            = 5 * time.Minute
	// smtpIdleCheck: a connection unused this long is probed with NOOP
	// before a message is sent on it (servers drop idle sessions; RFC
	// 5321 §4.5.3.2 lets them after 5 minutes).
	smtpIdleCheck = 10 * time.Second
	// smtpMaxMessages per connection before it is closed and redialled:
	// some servers limit messages per session (Postfix's default
	// smtpd_client_message_rate_limit is off, Exchange's is 100 by
	// default on some connectors, so stay below it).
	smtpMaxMessages = 100
)

var errPoolClosed = errors.New("notify: SMTP connection pool is closed")

func newSMTPPool(t SMTPTarget, timeout time.Duration, size int) (*smtpPool, error) {
	if size <= 0 {
		size = defaultSMTPConnections
	}
	// WithoutNoop: go-mail would otherwise send NOOP before every message;
	// the pool probes only connections that have been idle (idleCheck).
	c, err := mail.NewClient(t.Host, append(t.Options(timeout), mail.WithoutNoop())...)
	if err != nil {
		return nil, fmt.Errorf("notify: SMTP client for %s: %w", t, err)
	}
	p := &smtpPool{client: c, size: size, maxIdle: smtpMaxIdle, idleCheck: smtpIdleCheck, maxMessages: smtpMaxMessages,
		now: time.Now, slots: make(chan struct{}, size)}
	for range size {
		p.slots <- struct{}{}
	}
	return p, nil
}

// send delivers m over a pooled connection. The error is go-mail's (a
// *mail.SendError for a refusal), wrapped for dial failures.
func (p *smtpPool) send(ctx context.Context, m *mail.Msg) error {
	select {
	case <-p.slots:
	case <-ctx.Done():
		return ctx.Err()
	}
	pc, err := p.take(ctx)
	if err != nil {
		p.slots <- struct{}{}
		return err
	}
	err = p.client.SendWithSMTPClient(pc.c, m)
	if err != nil && pc.sent > 0 && brokenBeforeData(err) {
		// A reused connection the server had dropped (a restart, an idle
		// timeout shorter than idleCheck): nothing of m reached it, so
		// it is sent once more on a new connection.
		p.discard(pc)
		if pc, err = p.dial(ctx); err != nil {
			p.slots <- struct{}{}
			return err
		}
		err = p.client.SendWithSMTPClient(pc.c, m)
	}
	pc.sent++
	pc.lastUsed = p.now()
	if err != nil && !p.sessionIntact(pc, err) || pc.sent >= p.maxMessages {
		p.discard(pc)
	} else {
		p.put(pc)
	}
	p.slots <- struct{}{}
	return err
}

// take returns an idle connection that still answers, or dials a new one.
// The caller holds a slot.
func (p *smtpPool) take(ctx context.Context) (*pooledConn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errPoolClosed
		}
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		pc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := p.now().Sub(pc.lastUsed)
		if idle > p.maxIdle {
			p.discard(pc)
			continue
		}
		if idle > p.idleCheck {
			if err := pc.c.Noop(); err != nil {
				_ = pc.c.Close() // the server has gone; no QUIT
				continue
			}
		}
		return pc, nil
	}
	return p.dial(ctx)
}

func (p *smtpPool) dial(ctx context.Context) (*pooledConn, error) {
	c, err := p.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return &pooledConn{c: c, lastUsed: p.now()}, nil
}

// brokenBeforeData reports whether err is the connection failing before
// the server answered MAIL FROM: no reply code, so no part of the message
// was taken.
func brokenBeforeData(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) || se.ErrorCode() != 0 {
		return false
	}
	return se.Reason == mail.ErrConnCheck || se.Reason == mail.ErrSMTPMailFrom
}

func (p *smtpPool) put(pc *pooledConn) {
	p.mu.Lock()
	if !p.closed {
		p.idle = append(p.idle, pc)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.discard(pc)
}

// discard ends the session politely (QUIT) if it can; a connection that
// does not answer is simply closed.
func (p *smtpPool) discard(pc *pooledConn) {
	if err := p.client.CloseWithSMTPClient(pc.c); err != nil {
		_ = pc.c.Close()
	}
}

// close ends every idle connection; connections lent out are ended when
// they come back. Later sends fail with errPoolClosed.
func (p *smtpPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, pc := range idle {
		p.discard(pc)
	}
}

// sessionIntact reports whether pc can carry the next message after err:
// the server refused this sender, recipient or message with a reply, and
// the session answers RSET. Anything else (a broken connection, a timeout,
// a message go-mail could not write) ends the connection.
func (p *smtpPool) sessionIntact(pc *pooledConn, err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) || se.ErrorCode() < 400 {
		return false
	}
	switch se.Reason {
	case mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose:
		return p.client.ResetWithSMTPClient(pc.c) == nil
	}
	return false
}
