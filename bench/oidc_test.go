package bench

// OpenID Provider benchmarks: client-credentials grants, refresh-token
// grants (with rotation) and userinfo calls per second over real loopback
// HTTP, against the whole application as `portico serve` runs it, each
// reported next to Keycloak's published sizing (120 client-credentials
// grants/s and 120 refresh grants/s per vCPU): the x-keycloak metric is
// req/s divided by 120 × GOMAXPROCS, and the target is 10.
//
//	go test -run '^$' -bench OIDC -benchtime 5s -count 6 ./bench/
//
// SQLite by default; with PORTICO_TEST_POSTGRES_URL set, each benchmark
// also runs on a fresh PostgreSQL database (sub-benchmark db=postgres).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// keycloakPerVCPU is Keycloak's published sizing for both grant types:
// 120 client-credentials grants/s and 120 refresh-token grants/s per vCPU.
const keycloakPerVCPU = 120

// oidcEngines runs fn per available engine as a sub-benchmark.
func oidcEngines(b *testing.B, fn func(b *testing.B, dbURL string)) {
	b.Run("db=sqlite", func(b *testing.B) { fn(b, "") })
	if os.Getenv(storagetest.PostgresEnv) != "" {
		b.Run("db=postgres", func(b *testing.B) { fn(b, storagetest.NewURL(b, storage.Postgres)) })
	}
}

// startProvider runs the real application (SQLite in a temporary directory
// unless dbURL names a database), listening on a loopback port that is also
// its public URL, so tokens carry the issuer clients see.
func startProvider(b *testing.B, dbURL string) (*app.App, string) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config.Config{Addr: addr, DataDir: b.TempDir(), DB: dbURL, LogLevel: slog.LevelInfo, Role: "all"}
	if err := cfg.Finish(); err != nil {
		b.Fatal(err)
	}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Work: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := demo.Seed(ctx, a.Tenancy); err != nil {
		a.Stop(ctx)
		b.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		a.Stop(ctx)
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Stop(sctx); err != nil {
			b.Errorf("stop portico: %v", err)
		}
	})
	return a, a.URL()
}

// BenchmarkOIDCClientCredentials: POST /oauth/token with
// grant_type=client_credentials and HTTP Basic client authentication.
// Each grant checks the client secret, appends an audit entry (shared
// with concurrent grants' entries in one group commit; the token has no
// row of its own, ADR 60) and signs an ES256 JWT.
func BenchmarkOIDCClientCredentials(b *testing.B) {
	oidcEngines(b, func(b *testing.B, dbURL string) {
		a, base := startProvider(b, dbURL)
		reg, err := a.OIDC.AddClient(context.Background(), oidc.NewClient{Name: "bench", Grant: oidc.GrantClientCredentials,
			Scopes: []string{"records.read"}})
		if err != nil {
			b.Fatal(err)
		}
		body := "grant_type=client_credentials&scope=records.read"
		driveRequests(b, func(int) *http.Request {
			req, _ := http.NewRequest("POST", base+"/oauth/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(reg.ID, reg.Secret)
			return req
		}, nil)
	})
}

// BenchmarkOIDCRefreshToken: POST /oauth/token with
// grant_type=refresh_token. Each client goroutine holds its own grant
// (from a real authorization code flow with PKCE) and presents the
// refresh token it got last time, so every request rotates: the old token
// is marked used, a new one and an access token are stored with their
// audit entry, and an access token and an ID token are signed.
func BenchmarkOIDCRefreshToken(b *testing.B) {
	oidcEngines(b, func(b *testing.B, dbURL string) {
		a, base := startProvider(b, dbURL)
		conf, c := benchLogin(b, a, base)
		workers := parallelism * runtime.GOMAXPROCS(0)
		pool := make(chan *string, workers*2)
		for range workers * 2 {
			tok := benchGrant(b, conf, c)
			pool <- &tok.RefreshToken
		}
		driveRequests(b, nil, func(c *http.Client) error {
			rt := <-pool
			defer func() { pool <- rt }()
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {*rt}}
			req, _ := http.NewRequest("POST", base+"/oauth/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(conf.ClientID, conf.ClientSecret)
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var out struct {
				RefreshToken string `json:"refresh_token"`
			}
			if resp.StatusCode != http.StatusOK {
				raw, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("status %d: %s", resp.StatusCode, raw)
			}
			if err := jsonDecode(resp.Body, &out); err != nil || out.RefreshToken == "" {
				return fmt.Errorf("no refresh token: %v", err)
			}
			*rt = out.RefreshToken
			return nil
		})
	})
}

// BenchmarkOIDCUserinfo: GET /oauth/userinfo with a bearer access token
// (scopes openid profile email): verify the JWT, check the token row is
// live, load the account, answer its claims.
func BenchmarkOIDCUserinfo(b *testing.B) {
	oidcEngines(b, func(b *testing.B, dbURL string) {
		a, base := startProvider(b, dbURL)
		conf, c := benchLogin(b, a, base)
		tok := benchGrant(b, conf, c)
		driveRequests(b, func(int) *http.Request {
			req, _ := http.NewRequest("GET", base+"/oauth/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			return req
		}, nil)
	})
}

// benchLogin registers a web client, creates a citizen and returns a
// browser signed in as them.
func benchLogin(b *testing.B, a *app.App, base string) (*oauth2.Config, *http.Client) {
	b.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	const cb = "http://127.0.0.1:9/callback"
	reg, err := a.OIDC.AddClient(ctx, oidc.NewClient{Name: "bench", Grant: oidc.GrantAuthorizationCode, RedirectURIs: []string{cb}})
	if err != nil {
		b.Fatal(err)
	}
	const pw = "mauve otter rain 1987"
	if _, err := a.Identity.CreateCitizen(ctx, identity.NewCitizen{Email: "bench@example.com", LegalName: "Bench Citizen", Password: pw}); err != nil {
		b.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/sign-in", url.Values{"email": {"bench@example.com"}, "password": {pw}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", resp.StatusCode)
	}
	return &oauth2.Config{ClientID: reg.ID, ClientSecret: reg.Secret, RedirectURL: cb,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "profile", "email", "offline_access"}}, c
}

// benchGrant runs an authorization code flow with PKCE in the signed-in
// browser c (consenting when asked) and exchanges the code.
func benchGrant(b *testing.B, conf *oauth2.Config, c *http.Client) *oauth2.Token {
	b.Helper()
	verifier := oauth2.GenerateVerifier()
	u := conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))
	base := strings.TrimSuffix(conf.Endpoint.AuthURL, "/oauth/authorize")
	for range 10 {
		if strings.HasPrefix(u, conf.RedirectURL) {
			cbURL, _ := url.Parse(u)
			tok, err := conf.Exchange(context.Background(), cbURL.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				b.Fatal(err)
			}
			return tok
		}
		if strings.HasPrefix(u, "/") {
			u = base + u
		}
		var resp *http.Response
		var err error
		if strings.HasPrefix(u, base+"/oauth/consent?") {
			id, _ := url.Parse(u)
			resp, err = c.PostForm(base+"/oauth/consent", url.Values{"id": {id.Query().Get("id")}, "decision": {"allow"}})
		} else {
			resp, err = c.Get(u)
		}
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		u = resp.Header.Get("Location")
		if r := resp.Header.Get("Refresh"); r != "" {
			_, u, _ = strings.Cut(r, "url=")
		}
		if u == "" {
			b.Fatalf("authorization stopped with %d", resp.StatusCode)
		}
	}
	b.Fatal("authorization did not finish")
	return nil
}

// driveRequests runs b.N requests from parallel goroutines over
// keep-alive loopback connections, like drive, and reports req/s, p50,
// p99 and x-keycloak (req/s ÷ (120 × GOMAXPROCS)). Either newReq builds
// each request (which must answer 200) or do performs one whole call.
func driveRequests(b *testing.B, newReq func(i int) *http.Request, do func(c *http.Client) error) {
	driveRequestsAgainst(b, keycloakPerVCPU, newReq, do)
}

// driveRequestsAgainst is driveRequests with x-keycloak computed against
// Keycloak's published rate perVCPU for the operation measured.
func driveRequestsAgainst(b *testing.B, perVCPU float64, newReq func(i int) *http.Request, do func(c *http.Client) error) {
	b.SetParallelism(parallelism)
	c := newClient(parallelism * 64)
	defer c.CloseIdleConnections()
	if do == nil {
		do = func(c *http.Client) error {
			resp, err := c.Do(newReq(0))
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return err
		}
	}
	if err := do(c); err != nil { // warm up, and fail fast
		b.Fatal(err)
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failure atomic.Pointer[string]
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			if err := do(c); err != nil {
				msg := err.Error()
				failure.CompareAndSwap(nil, &msg)
				return
			}
			lat[next.Add(1)-1] = time.Since(t0)
		}
	})
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	b.StopTimer()
	if msg := failure.Load(); msg != nil {
		b.Fatal(*msg)
	}
	n := int(next.Load())
	done := lat[:n]
	slices.Sort(done)
	rps := float64(n) / elapsed.Seconds()
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(ms(percentile(done, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(done, 0.99)), "p99-ms")
	b.ReportMetric(rps/(perVCPU*float64(runtime.GOMAXPROCS(0))), "x-keycloak")
	reportCPU(b, cpu, n)
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
