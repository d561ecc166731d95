package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/portico-gov/portico/internal/web"
	"github.com/portico-gov/portico/internal/web/assets"
)

var hashedCSS = regexp.MustCompile(`^/static/uswds/css/uswds\.min\.[0-9a-f]{12}\.css$`)

func TestAssetNames(t *testing.T) {
	css := web.Asset("/static/uswds/css/uswds.min.css")
	if !hashedCSS.MatchString(css) {
		t.Errorf("Asset(uswds.min.css) = %q, want a hashed name", css)
	}
	if got := web.Asset("uswds/css/uswds.min.css"); got != css {
		t.Errorf("without /static/: %q, want %q", got, css)
	}
	if a, b := web.Asset("/static/portico.css"), web.Asset("/static/portico.js"); a == b || !strings.HasSuffix(a, ".css") || !strings.HasSuffix(b, ".js") {
		t.Errorf("portico.css → %q, portico.js → %q", a, b)
	}
	if got := web.Asset("/static/nope.css"); got != "/static/nope.css" {
		t.Errorf("unknown asset: %q", got)
	}
}

// get requests path from s with headers.
func get(s *web.Server, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

func TestStaticAssets(t *testing.T) {
	s, _ := newServer(t, nil)
	src, err := fs.ReadFile(assets.FS, "uswds/css/uswds.min.css")
	if err != nil {
		t.Fatal(err)
	}
	hashed := web.Asset("/static/uswds/css/uswds.min.css")
	for _, tt := range []struct {
		name, path, accept string
		wantEnc, wantCache string
		wantVary           bool
	}{
		{"hashed br", hashed, "gzip, deflate, br, zstd", "br", "public, max-age=31536000, immutable", true},
		{"hashed gzip", hashed, "gzip", "gzip", "public, max-age=31536000, immutable", true},
		{"hashed identity", hashed, "", "", "public, max-age=31536000, immutable", true},
		{"plain name br", "/static/uswds/css/uswds.min.css", "br", "br", "public, max-age=3600", true},
		{"plain name identity", "/static/uswds/css/uswds.min.css", "identity", "", "public, max-age=3600", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := get(s, "GET", tt.path, map[string]string{"Accept-Encoding": tt.accept})
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			h := w.Header()
			if got := h.Get("Content-Encoding"); got != tt.wantEnc {
				t.Errorf("Content-Encoding %q, want %q", got, tt.wantEnc)
			}
			if got := h.Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control %q, want %q", got, tt.wantCache)
			}
			if got := h.Get("Vary") == "Accept-Encoding"; got != tt.wantVary {
				t.Errorf("Vary %q", h.Get("Vary"))
			}
			if got := h.Get("Content-Type"); got != "text/css; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if got := h.Get("Content-Length"); got != strconv.Itoa(w.Body.Len()) {
				t.Errorf("Content-Length %q, body %d bytes", got, w.Body.Len())
			}
			if h.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if !bytes.Equal(decode(t, tt.wantEnc, w.Body.Bytes()), src) {
				t.Error("body does not decode to the stylesheet")
			}
			if tt.wantEnc == "br" && w.Body.Len()*5 > len(src) {
				t.Errorf("brotli body is %d bytes of %d: not compressed?", w.Body.Len(), len(src))
			}
		})
	}

	t.Run("etags differ by encoding and 304 on a match", func(t *testing.T) {
		br := get(s, "GET", hashed, map[string]string{"Accept-Encoding": "br"}).Header().Get("ETag")
		gz := get(s, "GET", hashed, map[string]string{"Accept-Encoding": "gzip"}).Header().Get("ETag")
		id := get(s, "GET", hashed, nil).Header().Get("ETag")
		if br == gz || gz == id || br == id {
			t.Fatalf("ETags must differ per representation: %s %s %s", br, gz, id)
		}
		for _, inm := range []string{br, `"x", ` + br, "W/" + br, "*"} {
			w := get(s, "GET", hashed, map[string]string{"Accept-Encoding": "br", "If-None-Match": inm})
			if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
				t.Errorf("If-None-Match %s: status %d, %d bytes", inm, w.Code, w.Body.Len())
			}
			if w.Header().Get("ETag") != br || w.Header().Get("Cache-Control") == "" || w.Header().Get("Vary") != "Accept-Encoding" {
				t.Errorf("304 headers: %v", w.Header())
			}
		}
		// The gzip ETag does not match the br representation.
		if w := get(s, "GET", hashed, map[string]string{"Accept-Encoding": "br", "If-None-Match": gz}); w.Code != 200 {
			t.Errorf("mismatched ETag: status %d", w.Code)
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		g := get(s, "GET", hashed, map[string]string{"Accept-Encoding": "br"})
		h := get(s, "HEAD", hashed, map[string]string{"Accept-Encoding": "br"})
		if h.Code != 200 || h.Body.Len() != 0 {
			t.Errorf("HEAD: status %d, %d bytes", h.Code, h.Body.Len())
		}
		for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding", "ETag", "Cache-Control", "Vary"} {
			if h.Header().Get(k) != g.Header().Get(k) {
				t.Errorf("HEAD %s = %q, GET has %q", k, h.Header().Get(k), g.Header().Get(k))
			}
		}
	})

	t.Run("fonts stay at their relative paths", func(t *testing.T) {
		// The stylesheet names ../fonts/... relatively; from the hashed
		// stylesheet's URL they resolve to the plain names.
		w := get(s, "GET", "/static/uswds/fonts/source-sans-pro/sourcesanspro-regular-webfont.woff2", map[string]string{"Accept-Encoding": "br, gzip"})
		if w.Code != 200 || w.Header().Get("Content-Type") != "font/woff2" || w.Header().Get("Content-Encoding") != "" || len(w.Header().Values("Vary")) != 0 {
			t.Errorf("font: %d %v", w.Code, w.Header())
		}
		if w.Header().Get("Cache-Control") != "public, max-age=3600" {
			t.Errorf("font cache: %q", w.Header().Get("Cache-Control"))
		}
	})

	t.Run("every asset by both names", func(t *testing.T) {
		err := fs.WalkDir(assets.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, ".br") || strings.HasSuffix(p, ".gz") {
				return err
			}
			for _, u := range []string{"/static/" + p, web.Asset(p)} {
				if w := get(s, "GET", u, map[string]string{"Accept-Encoding": "br"}); w.Code != 200 {
					t.Errorf("%s: %d", u, w.Code)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("unknown and wrong hash", func(t *testing.T) {
		for _, p := range []string{"/static/uswds/css/uswds.min.000000000000.css", "/static/nope.css", "/static/uswds/", "/static/uswds/css/uswds.min.css.br"} {
			if w := get(s, "GET", p, nil); w.Code != 404 {
				t.Errorf("%s: %d", p, w.Code)
			}
		}
	})
}
