package bench

// Password sign-ins per second over real loopback HTTP, next to Keycloak's
// published sizing of 15 password sign-ins/s per vCPU (x-keycloak is req/s
// divided by 15 × GOMAXPROCS). A sign-in is dominated by argon2id, whose
// parameters (docs/identity.md) are a security choice: this benchmark
// reports what they cost and is not a reason to lower them.
//
//	go test -run '^$' -bench 'PasswordSignIn|Argon2id' -benchtime 3s -count 5 ./bench/

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/password"
	"github.com/portico-gov/portico/internal/platform"
)

// keycloakSignInsPerVCPU is Keycloak's published sizing for password
// sign-ins.
const keycloakSignInsPerVCPU = 15

// BenchmarkPasswordSignIn: POST /sign-in with email and password, as a
// browser without a session sends it: throttle checks, load the account,
// argon2id verify (m = 19 MiB, t = 2, p = 1), and one transaction (clear
// the throttle counters, new session row, audit entry); 303 with a new
// session cookie. Each client goroutine signs in as its own citizen, so
// the per-account limit (5 attempts in flight or within a minute without
// a success) is never reached: a success clears the count.
func BenchmarkPasswordSignIn(b *testing.B) {
	oidcEngines(b, func(b *testing.B, dbURL string) {
		a, base := startProvider(b, dbURL)
		ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
		const pw = "mauve otter rain 1987"
		workers := parallelism * runtime.GOMAXPROCS(0)
		pool := make(chan string, workers+1)
		for i := range workers + 1 { // +1 for the warm-up call
			email := fmt.Sprintf("signin-%d@example.com", i)
			if _, err := a.Identity.CreateCitizen(ctx, identity.NewCitizen{Email: email, LegalName: "Bench Citizen", Password: pw}); err != nil {
				b.Fatal(err)
			}
			pool <- email
		}
		driveRequestsAgainst(b, keycloakSignInsPerVCPU, nil, func(c *http.Client) error {
			email := <-pool
			defer func() { pool <- email }()
			form := url.Values{"email": {email}, "password": {pw}}
			req, _ := http.NewRequest("POST", base+"/sign-in", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			// Stop at the 303: the session cookie is the answer measured.
			nc := *c
			nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := nc.Do(req)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Set-Cookie"), "portico-session") {
				return fmt.Errorf("sign-in: status %d, cookie %q: %s", resp.StatusCode, resp.Header.Get("Set-Cookie"), errorText(body))
			}
			return nil
		})
	})
}

// BenchmarkArgon2idVerify: one password check with Portico's parameters,
// alone, in parallel on every core: the ceiling for sign-ins per second on
// this machine, whatever else a sign-in does.
func BenchmarkArgon2idVerify(b *testing.B) {
	h, err := password.Hash("mauve otter rain 1987", password.Default)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := password.Verify("mauve otter rain 1987", h); !ok || err != nil {
				b.Fatal("verify failed", err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// errorText picks the error summary out of a page, for a failure message.
func errorText(page []byte) string {
	s := string(page)
	if i := strings.Index(s, "usa-alert__text"); i >= 0 {
		s = s[i:]
	}
	return s[:min(len(s), 300)]
}
