package oidc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestRevokeClientTokens: a client_credentials client (at POST
// /oauth/revoke_all, with its secret) or an operator
// (RevokeClientTokens) ends every token the client was issued until
// then, though they have no rows (ADR 60): Portico's APIs and
// introspection refuse them, tokens issued from the next second on
// work, other clients' tokens are untouched, and each revocation is
// audited.
func TestRevokeClientTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Now().UTC())
		s := newSiteAt(t, db, clock)
		ctx := context.Background()
		add := func(name string) *oidc.Registered {
			reg, err := s.svc.AddClient(ctx, oidc.NewClient{Name: name, Grant: oidc.GrantClientCredentials, Scopes: []string{"records.read"}})
			if err != nil {
				t.Fatal(err)
			}
			return reg
		}
		reg, other := add("DMV records"), add("Tax sync")
		grant := func(c *oidc.Registered) string {
			t.Helper()
			code, r := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"records.read"}}, c.ID, c.Secret)
			if code != http.StatusOK {
				t.Fatalf("grant: %d %v", code, r)
			}
			return r["access_token"].(string)
		}
		live := func(raw string) bool {
			t.Helper()
			_, err := s.svc.VerifyAccessToken(ctx, raw)
			if err != nil && platform.ErrorCode(err) != platform.CodeUnauthorized {
				t.Fatal(err)
			}
			code, r := s.postForm(t, "/oauth/introspect", url.Values{"token": {raw}}, reg.ID, reg.Secret)
			if code != http.StatusOK || (r["active"] == true) != (err == nil) {
				t.Fatalf("introspection (%d %v) and the APIs (%v) disagree", code, r, err)
			}
			return err == nil
		}
		revokeAll := func(t *testing.T, form url.Values, user, pass string) (time.Time, int, map[string]any) {
			t.Helper()
			code, r := s.postForm(t, "/oauth/revoke_all", form, user, pass)
			var nb time.Time
			if code == http.StatusOK {
				var err error
				if nb, err = time.Parse(time.RFC3339, r["tokens_not_before"].(string)); err != nil || r["client_id"] != reg.ID {
					t.Fatalf("answer %v (%v)", r, err)
				}
			}
			return nb, code, r
		}
		audits := func() int {
			var n int
			if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'oidc.client.tokens_revoke' AND subject = $1`, "client:"+reg.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// lastAudited is the not-before time of the last revocation's
		// audit record.
		lastAudited := func() string {
			var detail string
			if err := db.Read().QueryRowContext(ctx, `SELECT detail FROM audit_entries WHERE action = 'oidc.client.tokens_revoke' AND subject = $1 ORDER BY seq DESC LIMIT 1`,
				"client:"+reg.ID).Scan(&detail); err != nil {
				t.Fatal(err)
			}
			var d struct {
				NotBefore string `json:"not_before"`
			}
			if err := json.Unmarshal([]byte(detail), &d); err != nil {
				t.Fatal(err)
			}
			return d.NotBefore
		}
		// waitPast waits until a token issued now has an iat (whole
		// seconds, the real clock) of at least nb.
		waitPast := func(nb time.Time) { time.Sleep(time.Until(nb) + 10*time.Millisecond) }

		before, others := grant(reg), grant(other)
		if !live(before) || !live(others) {
			t.Fatal("fresh tokens are not live")
		}
		refused := []struct {
			name       string
			form       url.Values
			user, pass string
			code       int
			err        string
		}{
			{"no credentials", url.Values{}, "", "", http.StatusUnauthorized, "invalid_client"},
			{"a wrong secret", url.Values{}, reg.ID, "not-the-secret", http.StatusUnauthorized, "invalid_client"},
			{"another client's id with its own secret", url.Values{}, reg.ID, other.Secret, http.StatusUnauthorized, "invalid_client"},
			{"an unknown client", url.Values{}, "pc_nobody", "x", http.StatusUnauthorized, "invalid_client"},
		}
		for _, c := range refused {
			t.Run("refused: "+c.name, func(t *testing.T) {
				if _, code, r := revokeAll(t, c.form, c.user, c.pass); code != c.code || r["error"] != c.err {
					t.Fatalf("%d %v, want %d %s", code, r, c.code, c.err)
				}
				if !live(before) || audits() != 0 {
					t.Fatal("a refused request revoked or audited")
				}
			})
		}

		// The client itself, authenticated in the form body this time.
		// "Now" is the service's clock and, on PostgreSQL, the
		// database's too (the later): here the real time. The service's
		// clock is set to the real time first: the tokens' iat is the
		// real clock's, and one issued after the fake clock's second (a
		// slow setup) would otherwise outlive the revocation.
		clock.Set(time.Now().UTC())
		lo := clock.Now()
		if db.Dialect == storage.Postgres && time.Now().After(lo) {
			lo = time.Now()
		}
		nb, code, r := revokeAll(t, url.Values{"client_id": {reg.ID}, "client_secret": {reg.Secret}}, "", "")
		if code != http.StatusOK {
			t.Fatalf("revoke_all: %d %v", code, r)
		}
		hi := clock.Now()
		if db.Dialect == storage.Postgres && time.Now().After(hi) {
			hi = time.Now()
		}
		if !nb.After(lo) || nb.Sub(hi) > time.Second || nb.Nanosecond() != 0 {
			t.Fatalf("not before %s, asked between %s and %s: want the next whole second", nb, lo, hi)
		}
		if live(before) {
			t.Fatal("a token issued before the revocation is live")
		}
		if !live(others) {
			t.Fatal("another client's token died")
		}
		if audits() != 1 {
			t.Fatalf("%d audit records, want 1", audits())
		}
		// A token whose iat is the revocation's time lives; one a second
		// earlier does not (forged with the provider's key to set iat).
		forge := func(iat time.Time) string {
			raw, err := s.svc.SignJWT(ctx, map[string]any{"iss": s.URL, "sub": reg.ID, "client_id": reg.ID, "aud": []string{reg.ID},
				"jti": "ct_forged" + iat.Format("150405") + "xxxxxxxxxxxx", "iat": iat.Unix(), "exp": iat.Add(5 * time.Minute).Unix(), "scope": "records.read"})
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
		if live(forge(nb.Add(-time.Second))) || !live(forge(nb)) {
			t.Fatal("the boundary is not the not-before time")
		}
		waitPast(nb)
		after := grant(reg)
		if !live(after) {
			t.Fatal("a token issued after the revocation is refused")
		}

		// An operator revokes again: the later token dies too. A
		// revocation computed on a replica whose clock is behind never
		// moves the time back.
		clock.Set(clock.Now().Add(2 * time.Second))
		opCtx := platform.WithActor(ctx, platform.Actor{Kind: platform.ActorOperator, ID: "cli"})
		nb2, err := s.svc.RevokeClientTokens(opCtx, reg.ID)
		if err != nil || !nb2.After(nb) {
			t.Fatalf("operator revocation: %s, %v", nb2, err)
		}
		if live(after) {
			t.Fatal("the operator's revocation left a token live")
		}
		clock.Set(clock.Now().Add(-time.Minute))
		nb3, err := s.svc.RevokeClientTokens(opCtx, reg.ID)
		if err != nil {
			t.Fatal(err)
		}
		clock.Set(clock.Now().Add(time.Minute))
		got, err := s.svc.Client(ctx, reg.ID)
		// On SQLite the time stays; on PostgreSQL the database's clock
		// (not behind) may have moved it on a second.
		if err != nil || got.TokensNotBefore == nil || !got.TokensNotBefore.Equal(nb3) || nb3.Before(nb2) ||
			db.Dialect == storage.SQLite && !nb3.Equal(nb2) {
			t.Fatalf("not before after a revocation from behind: stored %v (%v), returned %s; the one before %s", got.TokensNotBefore, err, nb3, nb2)
		}
		if audits() != 3 || lastAudited() != nb3.Format(time.RFC3339) {
			t.Fatalf("%d audit records, the last with %s; want 3, the last with %s", audits(), lastAudited(), nb3.Format(time.RFC3339))
		}
		if _, err := s.svc.RevokeClientTokens(opCtx, "pc_nobody"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Fatalf("unknown client: %v", err)
		}
		waitPast(nb3)
		if !live(grant(reg)) {
			t.Fatal("a token issued after the operator's revocation is refused")
		}

		// A later time already stored (a revocation on a replica whose
		// clock is ahead) stays, and is what a revocation returns and
		// audits.
		ahead := nb3.Add(time.Hour)
		if _, err := db.Write().ExecContext(ctx, `UPDATE oidc_clients SET tokens_not_before = $1 WHERE id = $2`, ahead, reg.ID); err != nil {
			t.Fatal(err)
		}
		nb4, err := s.svc.RevokeClientTokens(opCtx, reg.ID)
		if err != nil || !nb4.Equal(ahead) {
			t.Fatalf("revocation under a later stored time returned %s, %v; want %s", nb4, err, ahead)
		}
		got, err = s.svc.Client(ctx, reg.ID)
		if err != nil || got.TokensNotBefore == nil || !got.TokensNotBefore.Equal(ahead) {
			t.Fatalf("stored %v, %v; want %s", got.TokensNotBefore, err, ahead)
		}
		if audits() != 4 || lastAudited() != ahead.Format(time.RFC3339) {
			t.Fatalf("%d audit records, the last with %s; want 4, the last with %s", audits(), lastAudited(), ahead.Format(time.RFC3339))
		}
	})
}

// TestRevokeClientTokensOfPeople: a client that signs people in (its
// secret leaked) revokes every access and refresh token it holds for
// people at once, at POST /oauth/revoke_all with its secret: userinfo,
// introspection and Portico's APIs refuse the access tokens, the refresh
// tokens no longer refresh (and are not taken for reuse: the people's
// grants stay), another client's people keep theirs, and tokens issued
// from the not-before time on work.
func TestRevokeClientTokensOfPeople(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Now().UTC())
		s := newSiteAt(t, db, clock)
		ctx := context.Background()
		reg, conf := s.webClient(t)
		// Another app (the test browser expects this name on the consent screen).
		other, err := s.svc.AddClient(ctx, oidc.NewClient{Name: "Fishing Licences", Grant: oidc.GrantAuthorizationCode, RedirectURIs: []string{rpCallback}})
		if err != nil {
			t.Fatal(err)
		}
		ana := s.flow(t, conf, "ana@example.com")
		ben := s.flow(t, s.oauth2Config(other), "ben@example.com")
		live := func(access string) bool {
			t.Helper()
			code, _ := s.userinfo(t, access)
			_, err := s.svc.VerifyAccessToken(ctx, access)
			if err != nil && platform.ErrorCode(err) != platform.CodeUnauthorized {
				t.Fatal(err)
			}
			if (code == http.StatusOK) != (err == nil) {
				t.Fatalf("userinfo (%d) and the APIs (%v) disagree", code, err)
			}
			return err == nil
		}
		refresh := func(c *oidc.Registered, rt string) (int, map[string]any) {
			return s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, c.ID, c.Secret)
		}
		if !live(ana.access) || !live(ben.access) {
			t.Fatal("fresh tokens are not live")
		}

		code, r := s.postForm(t, "/oauth/revoke_all", url.Values{}, reg.ID, reg.Secret)
		if code != http.StatusOK || r["client_id"] != reg.ID {
			t.Fatalf("revoke_all: %d %v", code, r)
		}
		nb, err := time.Parse(time.RFC3339, r["tokens_not_before"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if live(ana.access) {
			t.Fatal("a person's access token issued before the revocation is live")
		}
		if code, r := s.postForm(t, "/oauth/introspect", url.Values{"token": {ana.access}}, other.ID, other.Secret); code != http.StatusOK || r["active"] == true {
			t.Fatalf("introspection of a revoked person's token: %d %v", code, r)
		}
		if code, r := refresh(reg, ana.refresh); code != http.StatusBadRequest || r["error"] != "invalid_grant" {
			t.Fatalf("refresh with a revoked refresh token: %d %v", code, r)
		}
		if !live(ben.access) {
			t.Fatal("another client's person lost their token")
		}
		if code, r := refresh(other, ben.refresh); code != http.StatusOK {
			t.Fatalf("another client's refresh: %d %v", code, r)
		}
		for _, a := range s.auditActions(t) {
			if a == "oidc.refresh.reuse" {
				t.Fatal("a revoked refresh token was taken for reuse")
			}
		}

		// From the not-before time on, the client gets people's tokens again.
		if clock.Now().Before(nb) {
			clock.Set(nb)
		}
		cleo := s.flow(t, conf, "cleo@example.com")
		if !live(cleo.access) {
			t.Fatal("a token issued after the revocation is refused")
		}
		if code, r := refresh(reg, cleo.refresh); code != http.StatusOK {
			t.Fatalf("refresh after the revocation: %d %v", code, r)
		}
	})
}
