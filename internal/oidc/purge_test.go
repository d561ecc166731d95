package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestPurge walks a fake clock through the lifetimes of a grant's rows and
// checks that each kind goes exactly PurgeGrace after it expires, that a
// live grant keeps working once its authorization request is gone, and
// that reuse detection still revokes it.
func TestPurge(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Now().UTC())
		s := newSiteAt(t, db, clock)
		reg, conf := s.webClient(t)
		tok := s.flow(t, conf, "ana@example.com") // request, code, access token, refresh token
		cc, err := s.svc.AddClient(context.Background(), oidc.NewClient{Name: "DMV sync", Grant: oidc.GrantClientCredentials, Scopes: []string{"records.read"}})
		if err != nil {
			t.Fatal(err)
		}
		if code, r := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"records.read"}}, cc.ID, cc.Secret); code != http.StatusOK {
			t.Fatalf("client credentials: %d %v", code, r)
		}
		ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
		steps := []struct {
			name    string
			advance time.Duration // from the start
			before  func(t *testing.T)
			want    oidc.PurgeReport
		}{
			{"nothing has expired", 0, nil, oidc.PurgeReport{}},
			{"the code expired, but not a grace period ago", time.Hour, nil, oidc.PurgeReport{}},
			{"the code, a grace period after it expired", 2*time.Minute + oidc.PurgeGrace + time.Second, nil, oidc.PurgeReport{Codes: 1}},
			// The client's own token has no row to purge (ADR 60).
			{"access tokens and the authorization request", 30*time.Minute + oidc.PurgeGrace + time.Second, nil,
				oidc.PurgeReport{AuthRequests: 1, AccessTokens: 1}},
			{"refresh tokens live on", 24 * time.Hour, func(t *testing.T) {
				// The grant still refreshes without its authorization request…
				code, r := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}}, reg.ID, reg.Secret)
				if code != http.StatusOK {
					t.Fatalf("refresh: %d %v", code, r)
				}
				// …and presenting the old token again still revokes it.
				if code, _ := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}}, reg.ID, reg.Secret); code != http.StatusBadRequest {
					t.Fatalf("reuse: %d", code)
				}
				if code, _ := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r["refresh_token"].(string)}}, reg.ID, reg.Secret); code != http.StatusBadRequest {
					t.Fatalf("refresh after reuse: %d", code)
				}
			}, oidc.PurgeReport{}},
			{"the refresh access token", 24*time.Hour + 10*time.Minute + oidc.PurgeGrace + time.Second, nil, oidc.PurgeReport{AccessTokens: 1}},
			{"refresh tokens a grace period after they expired", 24*time.Hour + 30*24*time.Hour + oidc.PurgeGrace + time.Second, nil,
				oidc.PurgeReport{RefreshTokens: 2}},
			{"nothing left", 365 * 24 * time.Hour, nil, oidc.PurgeReport{}},
		}
		start := clock.Now()
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				clock.Set(start.Add(st.advance))
				if st.before != nil {
					st.before(t)
				}
				got, err := s.svc.Purge(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got != st.want {
					t.Fatalf("purged %+v, want %+v", got, st.want)
				}
			})
		}
		acts := s.auditActions(t)
		if !slices.Contains(acts, "oidc.purge") || !slices.Contains(acts, "oidc.refresh.reuse") {
			t.Fatalf("audit %v", acts)
		}
	})
}
