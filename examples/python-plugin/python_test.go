// Package pythonplugin_test runs plugin.py, a plug-in written in Python
// with the standard library only from docs/plugins.md, against the fake
// Portico of pkg/pluginsdk/pluginsdktest: if the doc's protocol were not
// enough to verify Portico's tokens and webhooks in another language,
// this would fail. It skips when python3 is not installed.
package pythonplugin_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/pkg/pluginsdk"
	"github.com/portico-gov/portico/pkg/pluginsdk/pluginsdktest"
)

const pluginID = "fishing-licences"

// TestManifest: the example's manifest and OpenAPI document agree, as
// `portico plugin validate` checks them.
func TestManifest(t *testing.T) {
	src, err := os.ReadFile("plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, probs := plugin.Validate(context.Background(), "plugin.yaml", src,
		plugin.Options{Load: plugin.FileLoader("."), EventTypes: app.EventTypes()}); len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
}

func TestPythonPlugin(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	for _, alg := range []pluginsdktest.Algorithm{pluginsdktest.ES256, pluginsdktest.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			p := pluginsdktest.NewWith(t, pluginID, alg)
			base := start(t, python, p)
			ok := pluginsdk.Claims{Agency: "fish-wildlife", Service: "fishing-licence"}
			now := time.Now()
			for _, tc := range []struct {
				name  string
				token string // "" for none
				path  string
				want  int
			}{
				{"a good token", p.Token(ok), "/licences/FL-2026-0001", http.StatusOK},
				{"a good token, no such licence", p.Token(ok), "/licences/FL-0000-0000", http.StatusNotFound},
				{"no token", "", "/licences/FL-2026-0001", http.StatusUnauthorized},
				{"another plug-in's token", p.Token(pluginsdk.Claims{Agency: "fish-wildlife", Service: "fishing-licence", Audience: []string{"vehicle-registry"}}), "/licences/FL-2026-0001", http.StatusUnauthorized},
				{"another issuer", p.Token(pluginsdk.Claims{Agency: "fish-wildlife", Service: "fishing-licence", Issuer: "https://portico.example.gov"}), "/licences/FL-2026-0001", http.StatusUnauthorized},
				{"expired", p.Token(pluginsdk.Claims{Agency: "fish-wildlife", Service: "fishing-licence", IssuedAt: now.Add(-4 * time.Minute), Expiry: now.Add(-2 * time.Minute)}), "/licences/FL-2026-0001", http.StatusUnauthorized},
				{"lives over five minutes", p.Token(pluginsdk.Claims{Agency: "fish-wildlife", Service: "fishing-licence", Expiry: now.Add(10 * time.Minute)}), "/licences/FL-2026-0001", http.StatusUnauthorized},
				{"no service", p.Token(pluginsdk.Claims{Agency: "fish-wildlife"}), "/licences/FL-2026-0001", http.StatusUnauthorized},
				{"payload changed", tamper(p.Token(ok)), "/licences/FL-2026-0001", http.StatusUnauthorized},
				{"signature changed", flip(p.Token(ok)), "/licences/FL-2026-0001", http.StatusUnauthorized},
				{"alg none", none(p.Token(ok)), "/licences/FL-2026-0001", http.StatusUnauthorized},
			} {
				t.Run(tc.name, func(t *testing.T) {
					req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
					if tc.token != "" {
						req.Header.Set("Authorization", "Bearer "+tc.token)
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer res.Body.Close()
					if res.StatusCode != tc.want {
						t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
					}
					if tc.want == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
						t.Errorf("WWW-Authenticate = %q", res.Header.Get("WWW-Authenticate"))
					}
				})
			}

			t.Run("a rotated key", func(t *testing.T) {
				p.RotateKey(alg)
				res, err := p.CallWith(mustRequest(t, base+"/licences/FL-2026-0001"), ok)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d after a key rotation, want 200", res.StatusCode)
				}
			})

			other := pluginsdktest.New(t, pluginID) // another Portico: another webhook secret
			body := []byte(`{"specversion":"1.0","id":"0193a7c4-0000-7000-8000-000000000001","source":"/portico/casework","type":"gov.portico.case.opened","time":"2026-12-05T10:00:00Z","porticoagency":"fish-wildlife"}`)
			for _, tc := range []struct {
				name string
				send func() (*http.Response, error)
				want int
			}{
				{"a signed event", func() (*http.Response, error) {
					return p.SendEvent(base+"/portico/events", pluginsdk.Event{Type: "gov.portico.case.opened", Source: "/portico/casework", Agency: "fish-wildlife"})
				}, http.StatusNoContent},
				{"signed now", func() (*http.Response, error) {
					return p.SendRaw(base+"/portico/events", "msg_1", time.Now(), body)
				}, http.StatusNoContent},
				{"signed ten minutes ago", func() (*http.Response, error) {
					return p.SendRaw(base+"/portico/events", "msg_2", time.Now().Add(-10*time.Minute), body)
				}, http.StatusUnauthorized},
				{"signed with another secret", func() (*http.Response, error) {
					return other.SendRaw(base+"/portico/events", "msg_3", time.Now(), body)
				}, http.StatusUnauthorized},
			} {
				t.Run(tc.name, func(t *testing.T) {
					res, err := tc.send()
					if err != nil {
						t.Fatal(err)
					}
					res.Body.Close()
					if res.StatusCode != tc.want {
						t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
					}
				})
			}
		})
	}
}

// start runs plugin.py on a free loopback port for p and returns its URL.
func start(t *testing.T, python string, p *pluginsdktest.Portico) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, python, filepath.Join(".", "plugin.py"), "--issuer", p.URL, "--plugin-id", pluginID, "--addr", "127.0.0.1:0",
		// Learn a rotated key at once: the test rotates within the minute.
		"--refetch-interval", "0")
	cmd.Env = append(os.Environ(), "PORTICO_WEBHOOK_SECRET="+p.Secret)
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if url, found := strings.CutPrefix(line, "listening on "); ok && found {
			return url
		}
		t.Fatalf("plugin.py did not start: %q", line)
	case <-time.After(20 * time.Second):
		t.Fatal("plugin.py did not start within 20s")
	}
	return ""
}

// testWriter sends the plug-in's log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// tamper changes the token's agency and keeps its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(b, &claims)
	claims["agency"] = "dmv"
	b, _ = json.Marshal(claims)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// flip changes one bit of the token's signature.
func flip(tok string) string {
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 1
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// none rewrites the header as an unsigned token's.
func none(tok string) string {
	parts := strings.Split(tok, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
}
