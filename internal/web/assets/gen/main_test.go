package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"

	"github.com/andybalholm/brotli"
)

// TestCommittedCompressedAssetsAreFresh fails when a committed .br or .gz
// differs from what the generator makes of its source (an asset was
// changed without running `go generate ./internal/web/assets`), when one
// is missing, or when one is left over.
func TestCommittedCompressedAssetsAreFresh(t *testing.T) {
	fsys := os.DirFS("..")
	want, err := Plan(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("the generator wants no compressed files; has the assets tree moved?")
	}
	have, err := Existing(fsys)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range have {
		seen[p] = true
		w, ok := want[p]
		if !ok {
			t.Errorf("%s is left over: its source is gone or not worth compressing (run go generate ./internal/web/assets)", p)
			continue
		}
		got, err := os.ReadFile("../" + p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, w) {
			t.Errorf("%s is stale: it differs from what the generator makes (run go generate ./internal/web/assets)", p)
		}
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("%s is missing (run go generate ./internal/web/assets)", p)
		}
	}
}

// TestEncodingsRoundTrip proves each encoding decodes to its source.
func TestEncodingsRoundTrip(t *testing.T) {
	src, err := os.ReadFile("../portico.css")
	if err != nil {
		t.Fatal(err)
	}
	br, gz, err := Encode(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(brotli.NewReader(bytes.NewReader(br)))
	if err != nil || !bytes.Equal(got, src) {
		t.Errorf("brotli round trip: %v, equal=%v", err, bytes.Equal(got, src))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, src) {
		t.Errorf("gzip round trip: %v, equal=%v", err, bytes.Equal(got, src))
	}
	// Deterministic: the same input makes the same bytes.
	br2, gz2, _ := Encode(src)
	if !bytes.Equal(br, br2) || !bytes.Equal(gz, gz2) {
		t.Error("encoding is not deterministic")
	}
}

func TestCompressible(t *testing.T) {
	for name, want := range map[string]bool{
		"uswds/css/uswds.min.css": true, "portico.js": true, "uswds/img/sprite.svg": true,
		"uswds/img/favicons/favicon.ico": true, "uswds/img/hero.jpg": false, "uswds/img/us_flag_small.png": false,
		"uswds/fonts/merriweather/Latin-Merriweather-Bold.woff2": false,
	} {
		if got := Compressible(name); got != want {
			t.Errorf("Compressible(%q) = %v, want %v", name, got, want)
		}
	}
}
