package pluginsdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

type claimsKey struct{}

// ClaimsFrom returns the verified claims Middleware put in ctx.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// WithClaims returns ctx carrying c, as Middleware does (for handlers'
// unit tests that bypass the token).
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// Problem is an RFC 9457 problem document, as the SDK's handlers answer.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Reason is the machine-readable cause (a Reason for token refusals,
	// a WebhookReason for webhooks).
	Reason string `json:"reason,omitempty"`
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// Middleware verifies the request's "Authorization: Bearer" token and
// calls next with the claims in the context (ClaimsFrom). Otherwise it
// answers without calling next:
//
//   - 401 with WWW-Authenticate and a problem+json body whose reason says
//     why (missing, expired, audience, ...) when the token is refused;
//   - 503 when Portico's keys cannot be fetched (the caller is not at
//     fault; Portico retries idempotent operations).
//
// Refusals are logged with slog at warning level, without the token.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r.Header.Get("Authorization"))
		var c *Claims
		var err error
		if !ok {
			err = refuse(ReasonMissing, nil, `send "Authorization: Bearer TOKEN" with the token Portico minted for this call`)
		} else {
			c, err = v.Verify(r.Context(), tok)
		}
		if err != nil {
			var te *TokenError
			if !errors.As(err, &te) {
				te = refuse(ReasonMalformed, err, "the token could not be verified")
			}
			slog.WarnContext(r.Context(), "pluginsdk: token refused", "plugin", v.audience, "method", r.Method, "path", r.URL.Path, "reason", te.Reason, "err", err)
			if te.Reason == ReasonKeys {
				w.Header().Set("Retry-After", "5")
				WriteProblem(w, Problem{Status: http.StatusServiceUnavailable, Reason: string(te.Reason),
					Detail: "the plug-in cannot fetch Portico's keys to check the token; try again later"})
				return
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error="invalid_token", error_description=%q`, v.audience, te.Detail))
			WriteProblem(w, Problem{Status: http.StatusUnauthorized, Reason: string(te.Reason), Detail: te.Detail})
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
	})
}

// bearer returns the token of an Authorization header value.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
