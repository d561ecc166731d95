package bench

import (
	"net"
	"net/http"
	"regexp"
	"testing"

	"github.com/portico-gov/portico/internal/web/assets"
)

var stylesheetLink = regexp.MustCompile(`href="(/static/uswds/css/uswds\.min\.[0-9a-f]+\.css)"`)

// BenchmarkStylesheet serves the 527 KB USWDS stylesheet (ADR 0024):
// Portico's hashed URL as brotli, as gzip and uncompressed (the encoding
// the client's Accept-Encoding asks for), beside a bare net/http
// FileServer over the same embedded files (no compression, as Portico
// served it before). body-B/op is what crosses the wire per request.
//
//	go test -run '^$' -bench Stylesheet -benchtime 3s -count 1 ./bench/
func BenchmarkStylesheet(b *testing.B) {
	portico := startPortico(b)
	m := stylesheetLink.FindSubmatch(fetch(b, portico+"/"))
	if m == nil {
		b.Fatal("the home page links no hashed stylesheet")
	}
	css := portico + string(m[1])

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.StripPrefix("/static/", http.FileServerFS(assets.FS))}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	bare := "http://" + ln.Addr().String() + "/static/uswds/css/uswds.min.css"

	for _, enc := range []string{"br", "gzip", "identity"} {
		b.Run("server=portico/encoding="+enc, func(b *testing.B) {
			driveWith(b, css, http.Header{"Accept-Encoding": {enc}})
		})
	}
	b.Run("server=bare-fileserver/encoding=identity", func(b *testing.B) {
		driveWith(b, bare, http.Header{"Accept-Encoding": {"br, gzip"}})
	})
}
