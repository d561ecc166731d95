package notifyapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
)

// Notify's authentication error messages (notifications-api
// app/authentication/auth.py).
const (
	msgNoToken      = "Unauthorized: authentication token must be provided"
	msgNotBearer    = "Unauthorized: authentication bearer scheme must be used"
	msgGeneral      = "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
	msgNoIss        = "Invalid token: iss field not provided"
	msgBadServiceID = "Invalid token: service id is not the right data type"
	msgNoService    = "Invalid token: service not found"
	msgNoKeys       = "Invalid token: service has no API keys"
	msgAlgorithm    = "Invalid token: algorithm used is not HS256"
	msgClock        = "Error: Your system clock must be accurate to within 30 seconds"
	msgRevoked      = "Invalid token: API key revoked"
	msgKeyNotFound  = "Invalid token: API key not found"
)

// ClockSkew is how far a token's iat may be from the server's clock.
const ClockSkew = 30 * time.Second

// authenticate checks r's bearer token as Notify does and returns the key
// that signed it, or an *apiError. load reads the keys of the token's
// service (notify.Service.ServiceKeys, or a read that brings more with
// them).
func authenticate(r *http.Request, load func(ctx context.Context, serviceID string) ([]notify.KeySecret, error), now time.Time) (notify.KeySecret, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return notify.KeySecret{}, authErr(http.StatusUnauthorized, msgNoToken)
	}
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return notify.KeySecret{}, authErr(http.StatusUnauthorized, msgNotBearer)
	}
	raw := strings.TrimSpace(h[7:])
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(raw, claims)
	if err != nil {
		return notify.KeySecret{}, authErr(http.StatusForbidden, msgGeneral)
	}
	iss, ok := claims["iss"].(string)
	if !ok || iss == "" {
		return notify.KeySecret{}, authErr(http.StatusForbidden, msgNoIss)
	}
	if _, err := uuid.Parse(iss); err != nil {
		return notify.KeySecret{}, authErr(http.StatusForbidden, msgBadServiceID)
	}
	ks, err := load(r.Context(), iss)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return notify.KeySecret{}, authErr(http.StatusForbidden, msgNoService)
	}
	if err != nil {
		return notify.KeySecret{}, &apiError{status: http.StatusInternalServerError, class: "Exception", message: "Internal server error", cause: err}
	}
	if len(ks) == 0 {
		return notify.KeySecret{}, authErr(http.StatusForbidden, msgNoKeys)
	}
	// Like PyJWT, the algorithm is refused before any signature is tried.
	if alg, _ := tok.Header["alg"].(string); alg != "HS256" {
		return notify.KeySecret{}, authErr(http.StatusForbidden, msgAlgorithm)
	}
	// The token is parsed once (above); each key only checks the
	// signature over the same signing input, as Parser.Parse would.
	signed := raw[:strings.LastIndexByte(raw, '.')]
	for _, k := range ks {
		if err := jwt.SigningMethodHS256.Verify(signed, tok.Signature, []byte(k.Secret)); err != nil {
			if errors.Is(err, jwt.ErrSignatureInvalid) {
				continue // not this key's signature: try the next
			}
			return notify.KeySecret{}, authErr(http.StatusForbidden, msgGeneral)
		}
		iat, ok := claims["iat"].(float64)
		if !ok {
			continue // PyJWT: a token without iat does not decode with any key
		}
		if d := now.Sub(time.Unix(int64(iat), 0)); d > ClockSkew || d < -ClockSkew {
			return notify.KeySecret{}, authErr(http.StatusForbidden, msgClock)
		}
		for c := range claims {
			if c != "iss" && c != "iat" && c != "jti" {
				return notify.KeySecret{}, authErr(http.StatusForbidden, msgGeneral)
			}
		}
		if !k.RevokedAt.IsZero() {
			return notify.KeySecret{}, authErr(http.StatusForbidden, msgRevoked)
		}
		return k, nil
	}
	return notify.KeySecret{}, authErr(http.StatusForbidden, msgKeyNotFound)
}

func authErr(status int, msg string) *apiError {
	return &apiError{status: status, class: "AuthError", message: msg}
}
