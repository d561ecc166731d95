package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/web"
)

// TestClientIP runs the real shell behind a real listener and checks which
// address handlers see as the client's, for a peer that is or is not a
// trusted proxy, with honest and forged X-Forwarded-For headers.
func TestClientIP(t *testing.T) {
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		xff     []string
		want    string
	}{
		{"no proxies configured: the header is ignored", nil, []string{"203.0.113.9"}, "127.0.0.1"},
		{"peer is not a trusted proxy: ignored", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, []string{"203.0.113.9"}, "127.0.0.1"},
		{"trusted proxy, no header: the proxy", loopback, nil, "127.0.0.1"},
		{"trusted proxy: its peer", loopback, []string{"203.0.113.9"}, "203.0.113.9"},
		{"a forged hop on the left is skipped", loopback, []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"trusted hops on the right are skipped", loopback, []string{"198.51.100.1, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"several header lines are one list", loopback, []string{"198.51.100.1", "203.0.113.9", "10.1.2.3"}, "203.0.113.9"},
		{"garbage stops the walk at the last trusted hop", loopback, []string{"203.0.113.9, not-an-ip, 10.1.2.3"}, "10.1.2.3"},
		{"garbage from the client alone: the proxy", loopback, []string{"<script>"}, "127.0.0.1"},
		{"all hops trusted: the leftmost", loopback, []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"IPv6 client", loopback, []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv4-mapped IPv6 is IPv4", loopback, []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := web.New(web.Config{TrustedProxies: tt.proxies}, slog.New(slog.DiscardHandler), catalog, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			s.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, web.ClientIP(r)) })
			srv := httptest.NewServer(s)
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/whoami", nil)
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(got) != tt.want {
				t.Fatalf("client = %q, want %q", got, tt.want)
			}
		})
	}
}
