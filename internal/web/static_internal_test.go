package web

import "testing"

func TestNegotiateEncoding(t *testing.T) {
	all := []encoding{{name: "br"}, {name: "gzip"}, {name: ""}}
	gzOnly := []encoding{{name: "gzip"}, {name: ""}}
	for _, tt := range []struct {
		header string
		encs   []encoding
		want   string
	}{
		{"", all, ""},
		{"br", all, "br"},
		{"gzip", all, "gzip"},
		{"x-gzip", all, "gzip"},
		{"gzip, deflate, br, zstd", all, "br"}, // Chromium's header
		{"gzip, deflate", all, "gzip"},         // no br: gzip
		{"br;q=0.5, gzip", all, "gzip"},        // q-values honoured
		{"br;q=0.9, gzip;q=0.9", all, "br"},    // a tie: br first
		{"gzip;q=1.0, br;q=1.0", all, "br"},    // order of the header does not matter
		{"BR;Q=0.8, GZIP;Q=0.2", all, "br"},    // case-insensitive
		{"identity", all, ""},
		{"identity, gzip", all, "gzip"},       // a tie with identity: compressed first
		{"identity;q=1, gzip;q=0.5", all, ""}, // identity preferred
		{"*", all, "br"},
		{"*;q=0.5, gzip", all, "gzip"},
		{"*;q=0", all, ""},            // nothing acceptable: identity anyway
		{"br;q=0, gzip;q=0", all, ""}, // q=0 refuses
		{"br;q=0, *", all, "gzip"},    // * covers gzip, not the refused br
		{"gzip;q=0, *;q=0.1", all, "br"},
		{"br;q=abc, gzip", all, "gzip"}, // a malformed weight is not a welcome
		{"br;q=2", all, ""},             // out of range: refused
		{"deflate, compress", all, ""},  // only codings we lack
		{"br", gzOnly, ""},              // the asset has no br copy
		{"gzip, br", gzOnly, "gzip"},
		{" , ;q=1, br ; q=0.3 ", all, "br"},
	} {
		got := negotiateEncoding(tt.header, tt.encs)
		if got.name != tt.want {
			t.Errorf("Accept-Encoding %q: got %q, want %q", tt.header, got.name, tt.want)
		}
	}
}
