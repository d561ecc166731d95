package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/web"
)

func multipartForm(t *testing.T, field, value, filename string) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.WriteField(field, value); err != nil {
		t.Fatal(err)
	}
	if filename != "" {
		part, err := mw.CreatePart(map[string][]string{
			"Content-Disposition": {fmt.Sprintf(`form-data; name="upload"; filename="%s"`, filename)},
			"Content-Type":        {"text/plain"},
		})
		if err != nil {
			t.Fatal(err)
		}
		part.Write([]byte("hello"))
	}
	mw.Close()
	return mw.FormDataContentType(), &b
}

// TestInvalidTextRefusedBeforeHandlers: text that is not UTF-8 or holds a
// NUL, anywhere a client can put text, is answered with 400 by the shell
// (a page, or a problem for JSON clients) and never reaches a handler;
// valid text, including non-ASCII, does.
func TestInvalidTextRefusedBeforeHandlers(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, target, contentType, body string
		multipartValue, multipartFile           string
		want                                    int
	}{
		{name: "valid path and query", method: "GET", target: "/text/Jos%C3%A9?q=Mu%C3%B1oz", want: 200},
		{name: "invalid byte in path", method: "GET", target: "/text/%FF", want: 400},
		{name: "NUL in path", method: "GET", target: "/text/a%00b", want: 400},
		{name: "invalid byte in query value", method: "GET", target: "/text/x?id=%ff", want: 400},
		{name: "NUL in query value", method: "GET", target: "/text/x?id=a%00", want: 400},
		{name: "invalid byte in query name", method: "GET", target: "/text/x?%FE=1", want: 400},
		{name: "unknown path with invalid byte", method: "GET", target: "/nope/%FF", want: 400},
		{name: "valid form", method: "POST", target: "/text/x", contentType: form, body: "legal_name=Jos%C3%A9+Mu%C3%B1oz", want: 200},
		{name: "invalid form value", method: "POST", target: "/text/x", contentType: form, body: "legal_name=Bad%FF%FEName", want: 400},
		{name: "NUL in form value", method: "POST", target: "/text/x", contentType: form, body: "c=%00", want: 400},
		{name: "invalid form name", method: "POST", target: "/text/x", contentType: form, body: "%FF=1", want: 400},
		{name: "malformed form is the handler's to answer", method: "POST", target: "/text/x", contentType: form, body: "a=%zz", want: 200},
		{name: "invalid value beside a malformed pair", method: "POST", target: "/text/x", contentType: form, body: "a=%zz&legal_name=%FF", want: 400},
		{name: "valid multipart", method: "POST", target: "/text/x", multipartValue: "José", multipartFile: "décret.pdf", want: 200},
		{name: "invalid multipart value", method: "POST", target: "/text/x", multipartValue: "Bad\xffName", want: 400},
		{name: "NUL in multipart value", method: "POST", target: "/text/x", multipartValue: "a\x00b", want: 400},
		{name: "invalid file name", method: "POST", target: "/text/x", multipartValue: "ok", multipartFile: "\xff.pdf", want: 400},
		{name: "valid JSON", method: "POST", target: "/text/x", contentType: "application/json", body: `{"name":"Jos\u00e9","path":"C:\\u0000"}`, want: 200},
		{name: "escaped NUL in JSON", method: "POST", target: "/text/x", contentType: "application/json", body: `{"name":"a\u0000b"}`, want: 400},
		{name: "invalid byte in JSON", method: "POST", target: "/text/x", contentType: "application/json", body: "{\"name\":\"\xff\"}", want: 400},
	}
	for _, tt := range tests {
		for _, api := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/api=%v", tt.name, api), func(t *testing.T) {
				s, logs := newServer(t, nil)
				reached := false
				s.HandleFunc("/text/{x}", func(w http.ResponseWriter, r *http.Request) {
					reached = true
					_ = r.PostFormValue("legal_name")
					if r.Header.Get("Content-Type") == "application/json" {
						var v map[string]string
						if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
							t.Errorf("handler got a body it cannot decode: %v", err)
						}
					}
				})
				ct, body := tt.contentType, strings.NewReader(tt.body)
				var r *http.Request
				if tt.multipartValue != "" {
					var b *bytes.Buffer
					ct, b = multipartForm(t, "legal_name", tt.multipartValue, tt.multipartFile)
					r = httptest.NewRequest(tt.method, tt.target, b)
				} else {
					r = httptest.NewRequest(tt.method, tt.target, body)
				}
				if ct != "" {
					r.Header.Set("Content-Type", ct)
				}
				if api {
					r.Header.Set("Accept", "application/json")
				}
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				if w.Code != tt.want {
					t.Fatalf("status %d, want %d:\n%s", w.Code, tt.want, w.Body)
				}
				if reached != (tt.want == 200) {
					t.Errorf("handler reached = %v", reached)
				}
				if tt.want == 400 {
					if api && w.Header().Get("Content-Type") != "application/problem+json" {
						t.Errorf("JSON client got %q", w.Header().Get("Content-Type"))
					}
					if !api && !strings.Contains(w.Body.String(), "We could not read that") {
						t.Errorf("page does not explain:\n%s", w.Body)
					}
				}
				if strings.Contains(logs.String(), "level=ERROR") {
					t.Errorf("client mistake logged as ERROR:\n%s", logs)
				}
			})
		}
	}
}

// TestUploadRoutesCheckTheirOwnMultipart: under an AllowBody prefix the
// shell leaves multipart bodies to the handler (it applies its own limits),
// and CheckMultipart refuses what the shell would have.
func TestUploadRoutesCheckTheirOwnMultipart(t *testing.T) {
	s, _ := newServer(t, nil)
	s.AllowBody("/upload/", 1<<20)
	var checked error
	s.HandleFunc("POST /upload/x", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 10); err != nil {
			t.Fatalf("the handler could not parse its own upload: %v", err)
		}
		checked = web.CheckMultipart(r.MultipartForm)
	})
	for _, tc := range []struct {
		value, file string
		ok          bool
	}{{"José", "décret.pdf", true}, {"Bad\xff", "", false}, {"ok", "a\xfe.pdf", false}} {
		ct, b := multipartForm(t, "legal_name", tc.value, tc.file)
		w := do(t, s, "POST", "/upload/x", b, "Content-Type", ct)
		if w.Code != 200 || (checked == nil) != tc.ok {
			t.Errorf("%q %q: status %d, CheckMultipart = %v", tc.value, tc.file, w.Code, checked)
		}
	}
}

// TestClientGoneIsNotAServerError: a request whose client disconnected
// fails inside (queries end with "context canceled"); that is logged below
// ERROR as the client going away, and counted as 499, not 500.
func TestClientGoneIsNotAServerError(t *testing.T) {
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprintf("api=%v", api), func(t *testing.T) {
			s, logs := newServer(t, nil)
			s.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done() // the client hangs up while we work
				s.Error(w, r, fmt.Errorf("cases: list: %w", r.Context().Err()))
			})
			s.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
				s.Error(w, r, errors.New("cases: list: connection refused"))
			})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			r := httptest.NewRequest("GET", "/slow", nil).WithContext(ctx)
			if api {
				r.Header.Set("Accept", "application/json")
			}
			s.ServeHTTP(httptest.NewRecorder(), r)
			l := logs.String()
			if strings.Contains(l, "level=ERROR") {
				t.Errorf("a client going away was logged at ERROR:\n%s", l)
			}
			if !strings.Contains(l, "level=INFO msg=\"client went away") || !strings.Contains(l, "status=499") {
				t.Errorf("the client going away is not in the log:\n%s", l)
			}
			// A real failure with the client still there stays an ERROR.
			if w := do(t, s, "GET", "/broken", nil); w.Code != 500 || !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("a server error was not logged at ERROR (%d):\n%s", w.Code, logs)
			}
			m := do(t, s, "GET", "/metrics", nil).Body.String()
			if !strings.Contains(m, `portico_http_request_duration_seconds_count{code="499",method="GET",route="GET /slow"} 1`) ||
				strings.Contains(m, `code="500",method="GET",route="GET /slow"`) {
				t.Errorf("metrics count the client going away as a server error:\n%s", m)
			}
		})
	}
}

// BenchmarkFormPost is the cost of a typical form post through the whole
// shell, the text check included.
func BenchmarkFormPost(b *testing.B) {
	catalog, err := i18n.Load()
	if err != nil {
		b.Fatal(err)
	}
	s, err := web.New(web.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), catalog, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	s.HandleFunc("POST /profile", func(w http.ResponseWriter, r *http.Request) { _ = r.PostFormValue("legal_name") })
	body := "legal_name=Jos%C3%A9+Mu%C3%B1oz&email=jose%40example.com&phone=5550100&address=" + strings.Repeat("x", 200)
	for b.Loop() {
		r := httptest.NewRequest("POST", "/profile?next=%2Faccount", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		s.ServeHTTP(httptest.NewRecorder(), r)
	}
}
