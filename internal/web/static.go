package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/portico-gov/portico/internal/web/assets"
)

// Static assets (ADR 0024). Every file under internal/web/assets is served
// at /static/PATH and at a content-hashed name, /static/DIR/BASE.HASH.EXT,
// that templates write with the "asset" function. A hashed name never
// changes meaning, so it is cached for a year as immutable; the plain name
// (bookmarks, and the fonts and images the USWDS stylesheet names with
// relative url()s) is cached for an hour and revalidated with its ETag.
// Compressible files are sent as the brotli or gzip copy made at build time
// (assets/gen), whichever the browser accepts first of br, gzip, identity.

const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheShort     = "public, max-age=3600"
)

// encoding is one representation of an asset.
type encoding struct {
	name string // "br", "gzip" or "" (identity)
	body []byte
	etag string
}

// asset is one static file and its representations.
type asset struct {
	path   string // "uswds/css/uswds.min.css"
	hashed string // "uswds/css/uswds.min.4f2a9c1b.css"
	ctype  string
	// encodings, best first: br, gzip, then identity (always present).
	encodings []encoding
}

// assetIndex maps both names of every asset.
type assetIndex struct {
	byPath   map[string]*asset
	byHashed map[string]*asset
}

var (
	indexOnce sync.Once
	index     *assetIndex
	indexErr  error
)

// staticIndex reads the embedded assets once.
func staticIndex() (*assetIndex, error) {
	indexOnce.Do(func() { index, indexErr = buildIndex(assets.FS) })
	return index, indexErr
}

// contentTypes are the types of the assets Portico ships; mime's own table
// differs between systems and lacks woff2 and ico.
var contentTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".jpg":   "image/jpeg",
	".jpeg":  "image/jpeg",
	".gif":   "image/gif",
	".ico":   "image/vnd.microsoft.icon",
	".woff2": "font/woff2",
	".woff":  "font/woff",
	".ttf":   "font/ttf",
	".md":    "text/markdown; charset=utf-8",
	".txt":   "text/plain; charset=utf-8",
	".json":  "application/json",
}

func buildIndex(fsys fs.FS) (*assetIndex, error) {
	ix := &assetIndex{byPath: map[string]*asset{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(p, ".br") || strings.HasSuffix(p, ".gz") {
			return nil // served as an encoding of its source
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(p)
		a := &asset{path: p, hashed: strings.TrimSuffix(p, ext) + "." + h + ext, ctype: contentTypes[strings.ToLower(ext)]}
		if a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
		for _, e := range []struct{ suffix, name string }{{".br", "br"}, {".gz", "gzip"}} {
			if c, err := fs.ReadFile(fsys, p+e.suffix); err == nil {
				a.encodings = append(a.encodings, encoding{name: e.name, body: c, etag: `"` + h + "-" + e.suffix[1:] + `"`})
			}
		}
		a.encodings = append(a.encodings, encoding{body: b, etag: `"` + h + `"`})
		ix.byPath[p] = a
		ix.byHashed[a.hashed] = a
		return nil
	})
	return ix, err
}

// Asset returns the URL of the static file at name ("/static/portico.css"
// or "portico.css") under its content-hashed name
// ("/static/portico.3f9a1c2b4d5e.css"), which may be cached for ever. An
// unknown name is returned as "/static/NAME", so a typo shows as a 404 in
// the browser rather than breaking the page.
func Asset(name string) string {
	p := strings.TrimPrefix(strings.TrimPrefix(name, "/static/"), "/")
	ix, err := staticIndex()
	if err == nil {
		if a, ok := ix.byPath[p]; ok {
			return "/static/" + a.hashed
		}
	}
	return "/static/" + p
}

// serveStatic serves GET and HEAD /static/{path...}.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	ix, err := staticIndex()
	if err != nil {
		s.Error(w, r, err)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/static/")
	a, immutable := ix.byHashed[p]
	if !immutable {
		a = ix.byPath[p]
	}
	if a == nil {
		s.fail(w, r, http.StatusNotFound)
		return
	}
	e := a.encodings[len(a.encodings)-1]
	if len(a.encodings) > 1 {
		e = negotiateEncoding(r.Header.Get("Accept-Encoding"), a.encodings)
	}
	h := w.Header()
	// A static file is the same in every language and for every visitor:
	// it varies only by its encoding (the shell's Vary: Accept-Language,
	// Cookie would keep shared caches from storing it).
	h.Del("Vary")
	h.Del("Content-Language")
	if len(a.encodings) > 1 {
		h.Set("Vary", "Accept-Encoding")
	}
	if immutable {
		h.Set("Cache-Control", cacheImmutable)
	} else {
		h.Set("Cache-Control", cacheShort)
	}
	h.Set("ETag", e.etag)
	if etagMatch(r.Header.Get("If-None-Match"), e.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.ctype)
	if e.name != "" {
		h.Set("Content-Encoding", e.name)
	}
	h.Set("Content-Length", strconv.Itoa(len(e.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.body)
	}
}

// etagMatch reports whether an If-None-Match header names etag, or is "*"
// (weak comparison, RFC 9110 §13.1.2).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// negotiateEncoding picks the representation for an Accept-Encoding header
// (RFC 9110 §12.5.3): the one with the highest q-value, preferring br, then
// gzip, then identity when they tie. A coding the header does not name
// takes the q of "*" if present; identity is acceptable unless refused
// ("identity;q=0", or "*;q=0" without naming identity). When nothing
// offered is acceptable, identity is sent anyway (RFC 9110 allows it, and a
// page without its stylesheet helps nobody). encs is ordered br, gzip,
// identity (identity last and always present).
func negotiateEncoding(header string, encs []encoding) encoding {
	identity := encs[len(encs)-1]
	if strings.TrimSpace(header) == "" {
		return identity
	}
	q := map[string]float64{}
	star := -1.0
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		v := 1.0
		for _, prm := range strings.Split(params, ";") {
			k, val, ok := strings.Cut(prm, "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil || f < 0 || f > 1 {
				f = 0 // a malformed weight does not make a coding welcome
			}
			v = f
		}
		if name == "x-gzip" {
			name = "gzip"
		}
		if name == "*" {
			star = v
			continue
		}
		if old, seen := q[name]; !seen || v > old {
			q[name] = v
		}
	}
	weight := func(name string) float64 {
		if v, ok := q[name]; ok {
			return v
		}
		if star >= 0 {
			return star
		}
		if name == "identity" {
			return 0.001 // acceptable unless refused, but least preferred
		}
		return 0
	}
	best, bestQ := identity, 0.0
	for _, e := range encs { // br, gzip, identity: the first of the highest q wins
		name := e.name
		if name == "" {
			name = "identity"
		}
		if w := weight(name); w > bestQ {
			best, bestQ = e, w
		}
	}
	return best
}

// hashedAssetName matches the content hash in a hashed asset URL.
var hashedAssetName = regexp.MustCompile(`(/static/[^"'\s?#]*?)\.[0-9a-f]{12}(\.[A-Za-z0-9]+)\b`)

// UnhashAssets writes the hashed asset URLs in a page back as their plain
// names, for golden files: a page's golden file should not change whenever
// a stylesheet does.
func UnhashAssets(page string) string {
	return hashedAssetName.ReplaceAllString(page, "$1$2")
}
