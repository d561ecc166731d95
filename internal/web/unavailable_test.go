package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// realErrors makes, with the real drivers, the errors a database that is
// out of reach gives: PostgreSQL refusing connections, and SQLite locked
// by another connection past its busy timeout, next to one that is not
// about reachability.
func realErrors(t *testing.T) map[string]error {
	t.Helper()
	ctx := context.Background()
	out := map[string]error{}
	_, err := pgconn.Connect(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("connected to port 1")
	}
	out["postgres refused"] = fmt.Errorf("casework: load case: %w", err)

	path := filepath.Join(t.TempDir(), "busy.db")
	holder, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10)")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	tx, err := holder.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.ExecContext(ctx, `INSERT INTO t VALUES (2)`)
	if err == nil {
		t.Fatal("second writer was not blocked")
	}
	out["sqlite busy"] = fmt.Errorf("feedback: save: %w", err)
	_, err = other.ExecContext(ctx, `SELECT nope FROM t`)
	out["sqlite bad query"] = err
	out["plain"] = errors.New("something broke")
	out["canceled"] = fmt.Errorf("query: %w", context.Canceled)
	return out
}

// TestUnavailableIs503: a database out of reach answers 503 with
// Retry-After (a page in both languages, or problem+json with code
// "unavailable"), logged as a warning; other failures stay 500.
func TestUnavailableIs503(t *testing.T) {
	errs := realErrors(t)
	s, logs := newServer(t, nil)
	s.HandleFunc("GET /db/{kind}", func(w http.ResponseWriter, r *http.Request) { s.Error(w, r, errs[r.PathValue("kind")]) })
	s.HandleFunc("GET /api/v1/db/{kind}", func(w http.ResponseWriter, r *http.Request) { s.Error(w, r, errs[r.PathValue("kind")]) })
	tests := []struct {
		kind       string
		status     int
		retryAfter string
	}{
		{"postgres refused", 503, "5"},
		{"sqlite busy", 503, "2"},
		{"sqlite bad query", 500, ""},
		{"plain", 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			if _, ok := storage.Unavailable(errs[tt.kind]); ok != (tt.status == 503) {
				t.Fatalf("storage.Unavailable(%v) = %v", errs[tt.kind], ok)
			}
			for _, lang := range []string{"en", "es"} {
				w := do(t, s, "GET", "/db/"+strings.ReplaceAll(tt.kind, " ", "%20"), nil, "Accept-Language", lang)
				if w.Code != tt.status || w.Header().Get("Retry-After") != tt.retryAfter {
					t.Fatalf("page: %d Retry-After %q, want %d %q", w.Code, w.Header().Get("Retry-After"), tt.status, tt.retryAfter)
				}
				title := map[string]string{"en": "Error: Sorry, the service is busy | Portico", "es": "Error: Lo sentimos, el servicio está ocupado | Portico"}[lang]
				if m := titleTag.FindStringSubmatch(w.Body.String()); tt.status == 503 && (m == nil || m[1] != title) {
					t.Fatalf("page title %v, want %q", m, title)
				}
			}
			w := do(t, s, "GET", "/api/v1/db/"+strings.ReplaceAll(tt.kind, " ", "%20"), nil)
			var p struct {
				Status int           `json:"status"`
				Code   platform.Code `json:"code"`
				Detail string        `json:"detail"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("problem: %v %s", err, w.Body)
			}
			if w.Code != tt.status || p.Status != tt.status || w.Header().Get("Retry-After") != tt.retryAfter || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("api: %d %+v Retry-After %q", w.Code, p, w.Header().Get("Retry-After"))
			}
			if tt.status == 503 && (p.Code != platform.CodeUnavailable || strings.Contains(p.Detail, "127.0.0.1")) {
				t.Fatalf("api problem %+v", p)
			}
		})
	}
	if _, ok := storage.Unavailable(errs["canceled"]); ok {
		t.Error("a canceled query counts as the database being unavailable")
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN msg=\"database unavailable: answered 503\""); n != 6 {
		t.Errorf("%d warnings for 6 answers 503:\n%s", n, out)
	}
	if strings.Count(out, "level=ERROR msg=\"request failed\"") != 6 {
		t.Errorf("want 6 errors for the 500s:\n%s", out)
	}
}

// failingWriter is a connection whose client has gone: every write fails.
type failingWriter struct{ h http.Header }

func (f *failingWriter) Header() http.Header       { return f.h }
func (f *failingWriter) WriteHeader(int)           {}
func (f *failingWriter) Write([]byte) (int, error) { return 0, errors.New("write: broken pipe") }

// TestClientGoneWhileRendering: a page that cannot be written because its
// client left is logged at INFO, not as a server error; the same failure
// with the client still there is an error.
func TestClientGoneWhileRendering(t *testing.T) {
	for _, gone := range []bool{true, false} {
		s, logs := newServer(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		if gone {
			cancel()
		} else {
			defer cancel()
		}
		r := httptestRequest(ctx)
		s.ErrorPage(&failingWriter{h: http.Header{}}, r, http.StatusNotFound)
		out := logs.String()
		if gone && (strings.Contains(out, "level=ERROR") || !strings.Contains(out, "client went away")) {
			t.Fatalf("client gone: %s", out)
		}
		if !gone && !strings.Contains(out, "level=ERROR") {
			t.Fatalf("client there: %s", out)
		}
	}
}

func httptestRequest(ctx context.Context) *http.Request {
	r, _ := http.NewRequestWithContext(ctx, "GET", "http://example.gov/x", nil)
	return r
}
