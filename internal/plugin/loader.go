package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// FileLoader reads an OpenAPI document named by a manifest in directory
// dir: a path relative to dir (or absolute), or an https URL (http only
// for loopback hosts), fetched with a 10-second limit.
func FileLoader(dir string) Loader {
	return func(ctx context.Context, ref string) ([]byte, error) {
		if strings.Contains(ref, "://") {
			return fetch(ctx, ref)
		}
		p := ref
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, filepath.FromSlash(ref))
		}
		f, err := os.Open(p)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, pe.Err
			}
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, MaxOpenAPISize+1))
	}
}

// FSLoader reads OpenAPI documents from fsys, relative to dir (for
// manifests embedded in the binary, such as the examples).
func FSLoader(fsys fs.FS, dir string) Loader {
	return func(ctx context.Context, ref string) ([]byte, error) {
		if strings.Contains(ref, "://") {
			return fetch(ctx, ref)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, ref))
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return b, err
	}
}

func fetch(ctx context.Context, ref string) ([]byte, error) {
	if msg := checkURL(ref); msg != "" {
		return nil, errors.New(msg)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/yaml, application/json;q=0.9, */*;q=0.1")
	client := &http.Client{CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		if msg := checkURL(r.URL.String()); msg != "" {
			return errors.New("redirected: " + msg)
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			return nil, ue.Unwrap()
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the server answered %s", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, MaxOpenAPISize+1))
}
