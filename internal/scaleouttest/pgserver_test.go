package scaleouttest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// pgServer is a PostgreSQL server of the test's own: a cluster made with
// initdb in a temporary directory, served by postgres on a loopback port.
// The test restarts and crashes it, which it must not do to the machine's
// server (other tests share it). The postmaster is the test's child, so it
// dies with the test binary as the replicas do; it is stopped with pg_ctl,
// as an operator would stop it.
type pgServer struct {
	t        *testing.T
	bin      string // the directory of initdb, pg_ctl and postgres
	dir      string // the server's own: data/, its socket
	port     int
	uid, gid int // the user the server runs as; -1: this process's
	log      *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// pgTools finds a directory holding initdb, pg_ctl and postgres.
func pgTools() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("postgres"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	dirs = append(dirs, "/usr/local/bin")
	// Debian keeps them out of PATH, one directory per major version:
	// the newest first.
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
	slices.SortFunc(versions, func(a, b string) int { return major(b) - major(a) })
	dirs = append(dirs, versions...)
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) && fileExists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("initdb, pg_ctl and postgres not found on PATH, in /usr/local/bin or in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
}

// startPostgres makes a cluster and starts its server. An error says why
// it cannot (the programs are missing, or the test runs as root and there
// is no user to run them as): the caller then uses the machine's server.
func startPostgres(t *testing.T) (*pgServer, error) {
	t.Helper()
	bin, err := pgTools()
	if err != nil {
		return nil, err
	}
	p := &pgServer{t: t, bin: bin, uid: -1, gid: -1}
	if os.Geteuid() == 0 {
		// initdb, pg_ctl and postgres refuse to run as root.
		if !canRunAs {
			return nil, fmt.Errorf("the test runs as root, and starts PostgreSQL as another user on Linux only")
		}
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("the test runs as root and PostgreSQL refuses to: no user postgres to run it as (%v)", err)
		}
		p.uid, _ = strconv.Atoi(u.Uid)
		p.gid, _ = strconv.Atoi(u.Gid)
	}
	// Not t.TempDir(): its parent directories are private to this
	// process's user, and the server's user must reach this one.
	if p.dir, err = os.MkdirTemp("", "portico-scaleout-pg-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(p.dir) }) // after the server stops (cleanups run last first)
	if p.uid >= 0 {
		if err := os.Chown(p.dir, p.uid, p.gid); err != nil {
			t.Fatal(err)
		}
	}
	if p.log, err = os.Create(filepath.Join(p.dir, "server.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.log.Close() })
	// --no-sync: initdb's own files need not reach the disk for a test
	// (the server itself runs with fsync on, as the machine's does).
	if out, err := p.run("initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.port = freePort(t)
	p.start()
	t.Cleanup(func() {
		p.stop("fast")
		if t.Failed() {
			b, _ := os.ReadFile(p.log.Name())
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- PostgreSQL server log (end):\n%s", b)
		}
	})
	admin, err := sql.Open("pgx", p.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE portico`); err != nil {
		t.Fatalf("create the cluster's database: %v", err)
	}
	return p, nil
}

func (p *pgServer) data() string { return filepath.Join(p.dir, "data") }

// url is the address of database name on this server.
func (p *pgServer) url(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, name)
}

// run runs one of the server's programs as the server's user.
func (p *pgServer) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.SysProcAttr = serverAttr(p.uid, p.gid)
	cmd.Dir = p.dir
	return cmd.CombinedOutput()
}

// start starts the server (after a crash, it first recovers from its
// write-ahead log) and waits until it accepts queries.
func (p *pgServer) start() {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.data(),
		"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(p.port), "-c", "unix_socket_directories="+p.dir)
	cmd.SysProcAttr = serverAttr(p.uid, p.gid)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("postgres: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b, _ := os.ReadFile(p.log.Name())
			p.t.Fatalf("postgres exited on start: %v\n%s", cmd.ProcessState, b)
		default:
		}
		if last = p.ping(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("postgres not ready within 2 minutes: %v", last)
}

// ping runs a query on a new connection.
func (p *pgServer) ping() error {
	db, err := sql.Open("pgx", p.url("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.QueryRowContext(ctx, `SELECT 1`).Scan(new(int))
}

// stop stops the server with pg_ctl in mode: "fast" (clients are
// disconnected, a checkpoint is written) or "immediate" (every server
// process quits at once, as in a crash: the next start recovers).
func (p *pgServer) stop(mode string) {
	p.t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	if out, err := p.run("pg_ctl", "stop", "-D", p.data(), "-m", mode, "-w", "-t", "60"); err != nil {
		p.t.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
		_ = cmd.Process.Kill()
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		p.t.Errorf("postgres did not exit within a minute of pg_ctl stop -m %s", mode)
	}
}

// restart is `pg_ctl restart -m mode` with the server down for at least
// down: pg_ctl stops it, and the test starts it again itself so that it
// stays the test's child (pg_ctl would detach it). It returns how long the
// server accepted no query.
func (p *pgServer) restart(mode string, down time.Duration) time.Duration {
	p.t.Helper()
	begin := time.Now()
	p.stop(mode)
	time.Sleep(down)
	p.start()
	return time.Since(begin)
}
