package app

import (
	"context"

	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
)

// feedClients adapts the OpenID Provider's client registry to what the
// events feed asks: the agency a client belongs to.
type feedClients struct{ oidc *oidc.Service }

func (c feedClients) ClientAgency(ctx context.Context, id string) (string, error) {
	cl, err := c.oidc.Client(ctx, id)
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeNotFound {
			return "", platform.Errorf(platform.CodeUnauthorized, "the client of this token no longer exists")
		}
		return "", err
	}
	if cl.Disabled {
		return "", platform.Errorf(platform.CodeUnauthorized, "the client of this token is disabled")
	}
	return cl.AgencyID, nil
}
