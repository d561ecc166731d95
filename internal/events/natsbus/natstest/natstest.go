// Package natstest runs a real NATS server with JetStream inside a test
// process (nats-server embedded: a random loopback port, a temporary store
// directory), and gives tests the machine's NATS when
// PORTICO_TEST_NATS_URL names one. Only tests import it.
package natstest

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// URLEnv names the machine's NATS server (with JetStream) for tests, e.g.
// nats://127.0.0.1:4222; .ci/run sets it.
const URLEnv = "PORTICO_TEST_NATS_URL"

// Server is an embedded NATS server with JetStream.
type Server struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

// Start runs an embedded server on a random loopback port with its store
// in a temporary directory; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, opts: server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	}}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	srv, err := server.NewServer(&s.opts)
	if err != nil {
		s.t.Fatalf("natstest: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.t.Fatal("natstest: the embedded NATS server did not become ready")
	}
	s.srv = srv
	// A restart comes back on the same port.
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		srv.Shutdown()
		s.t.Fatalf("natstest: the server listens on %v, not TCP", srv.Addr())
	}
	s.opts.Port = addr.Port
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://" + s.srv.Addr().String() }

// Stop shuts the server down (keeping its store); Restart brings it back.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart starts the server again on the same port and store, as an
// operator restarting NATS would.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// External returns the machine's NATS URL from PORTICO_TEST_NATS_URL, or
// "" when it is unset.
func External() string { return os.Getenv(URLEnv) }

// Unique returns a name no other test run uses, for streams and subject
// prefixes on a shared server.
func Unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
