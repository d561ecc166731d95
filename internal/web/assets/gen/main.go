// Command gen writes the precompressed copies of Portico's static assets:
// for each compressible file under internal/web/assets (stylesheets,
// scripts, SVG images, icons), NAME.br (brotli, quality 11) and NAME.gz
// (gzip, best compression) beside it, when they make the file smaller.
// The results are committed and embedded with the assets, so a machine
// with only Go serves them without generating anything (ADR 0024).
//
// Run it after changing an asset:
//
//	go generate ./internal/web/assets
//
// It removes .br and .gz files whose source is gone or no longer worth
// compressing. The test beside it fails when a committed file differs from
// what this program makes, so nobody forgets to run it.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/andybalholm/brotli"
)

// Compressible reports whether a file of this name is worth compressing:
// text formats. Fonts (woff2) and images in PNG or JPEG are compressed
// already.
func Compressible(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".css", ".js", ".svg", ".ico":
		return true
	}
	return false
}

// minSaving is how much smaller (in bytes) an encoding must make a file
// for it to be kept: a few bytes saved are not worth a second copy.
const minSaving = 64

// Encode returns the brotli and gzip encodings of b. Both are
// deterministic for a given encoder version: the gzip header carries no
// name or time.
func Encode(b []byte) (br, gz []byte, err error) {
	var bb bytes.Buffer
	bw := brotli.NewWriterLevel(&bb, brotli.BestCompression)
	if _, err := bw.Write(b); err != nil {
		return nil, nil, err
	}
	if err := bw.Close(); err != nil {
		return nil, nil, err
	}
	var gb bytes.Buffer
	gw, err := gzip.NewWriterLevel(&gb, gzip.BestCompression)
	if err != nil {
		return nil, nil, err
	}
	if _, err := gw.Write(b); err != nil {
		return nil, nil, err
	}
	if err := gw.Close(); err != nil {
		return nil, nil, err
	}
	return bb.Bytes(), gb.Bytes(), nil
}

// Plan returns the files the generator wants in dir: path (slash-separated,
// relative to dir) of each .br and .gz to their contents.
func Plan(fsys fs.FS) (map[string][]byte, error) {
	want := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == "gen" { // this program
				return fs.SkipDir
			}
			return nil
		}
		if isEncoded(p) || !Compressible(p) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		br, gz, err := Encode(b)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if len(br)+minSaving <= len(b) {
			want[p+".br"] = br
		}
		if len(gz)+minSaving <= len(b) {
			want[p+".gz"] = gz
		}
		return nil
	})
	return want, err
}

// Existing returns the .br and .gz files in fsys.
func Existing(fsys fs.FS) ([]string, error) {
	var out []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == "gen" {
			return fs.SkipDir
		}
		if !d.IsDir() && isEncoded(p) {
			out = append(out, p)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

func isEncoded(p string) bool { return strings.HasSuffix(p, ".br") || strings.HasSuffix(p, ".gz") }

func main() {
	dir := flag.String("dir", ".", "the assets directory (internal/web/assets)")
	flag.Parse()
	if err := generate(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func generate(dir string) error {
	fsys := os.DirFS(dir)
	if _, err := fs.Stat(fsys, "assets.go"); err != nil {
		return fmt.Errorf("%s is not internal/web/assets: %w", dir, err)
	}
	want, err := Plan(fsys)
	if err != nil {
		return err
	}
	have, err := Existing(fsys)
	if err != nil {
		return err
	}
	for _, p := range have {
		if _, ok := want[p]; !ok {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
				return err
			}
			fmt.Printf("removed %s\n", p)
		}
	}
	names := make([]string, 0, len(want))
	for p := range want {
		names = append(names, p)
	}
	slices.Sort(names)
	written := 0
	for _, p := range names {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if old, err := os.ReadFile(full); err == nil && bytes.Equal(old, want[p]) {
			continue
		}
		if err := os.WriteFile(full, want[p], 0o644); err != nil {
			return err
		}
		written++
		fmt.Printf("wrote %s (%d bytes)\n", p, len(want[p]))
	}
	fmt.Printf("%d compressed assets, %d written\n", len(names), written)
	return nil
}
