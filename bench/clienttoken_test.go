package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/oidc"
)

// BenchmarkClientTokenVerify: what every API call with an agency
// system's own token pays to accept it (oidc.Service.VerifyAccessToken:
// the ES256 signature, the claims, the client from its cache, and the
// database read that sees a revocation: the token's revoked row and,
// since ADR 69, the client's tokens_not_before, in one statement), with
// GOMAXPROCS goroutines at once.
//
//	go test -run '^$' -bench ClientTokenVerify -benchtime 3s ./bench/
func BenchmarkClientTokenVerify(b *testing.B) {
	oidcEngines(b, func(b *testing.B, dbURL string) {
		a, base := startProvider(b, dbURL)
		reg, err := a.OIDC.AddClient(context.Background(), oidc.NewClient{Name: "bench", Grant: oidc.GrantClientCredentials,
			Scopes: []string{"records.read"}})
		if err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequest("POST", base+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"records.read"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(reg.ID, reg.Secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		err = json.NewDecoder(res.Body).Decode(&tok)
		res.Body.Close()
		if err != nil || tok.AccessToken == "" {
			b.Fatalf("grant: %d %v", res.StatusCode, err)
		}
		ctx := context.Background()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := a.OIDC.VerifyAccessToken(ctx, tok.AccessToken); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
