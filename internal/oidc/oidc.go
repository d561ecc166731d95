// Package oidc makes Portico an OpenID Provider: agency systems, plug-ins
// and apps sign people in with their Portico account (authorization code
// flow with PKCE), and call Portico as themselves (client credentials).
//
// The protocol is zitadel/oidc's op package (ADR 9); this package is its
// op.Storage over Portico's database (migration 00004), the hand-off to
// Portico's own sign-in and session, the consent page, and the operator's
// tools (clients, signing keys).
//
// Contracts:
//   - Secrets at rest: client secrets, authorization codes and refresh
//     tokens are stored as SHA-256 hashes; signing keys are sealed with
//     internal/secrets.
//   - Every token issue, consent grant, logout, replayed code and reused
//     refresh token is appended to the audit log, in the transaction that
//     changes the state it describes.
//   - Refresh tokens rotate: a used one is dead, and presenting it again
//     revokes every token of its grant.
//   - Bad input from outside is an OAuth error (4xx), never a 500 or a
//     panic: Storage methods return *oidc.Error values for the client's
//     mistakes and oidc.ErrServerError only for Portico's own faults.
//   - Claims beyond sub leave Portico only for scopes the person consented
//     to; consent is remembered per person and client.
package oidc

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
)

// ScopeBirthdate is Portico's scope for the birthdate claim. The standard
// profile scope does not release it: a date of birth is asked for on its
// own, so the person sees it on the consent page.
const ScopeBirthdate = "birthdate"

// ScopeApplications lets a relying party read, through Portico's API
// (/api/v1/applications), the applications the person submitted: their
// references, services and status; never the answers.
const ScopeApplications = "applications"

// Config holds the provider's lifetimes and identity.
type Config struct {
	// Issuer is Portico's public URL (config.PublicURL), without a
	// trailing slash. Tokens carry it as iss.
	Issuer string
	// AccessTokenTTL is the lifetime of access tokens (JWTs). Default 10 min.
	AccessTokenTTL time.Duration
	// IDTokenTTL is the lifetime of ID tokens. Default 10 min.
	IDTokenTTL time.Duration
	// RefreshTokenTTL is how long a refresh token may go unused. Each use
	// rotates it and starts a new period. Default 30 days.
	RefreshTokenTTL time.Duration
	// AuthRequestTTL bounds the time from /oauth/authorize to the code
	// exchange, sign-in and consent included. Default 30 min.
	AuthRequestTTL time.Duration
	// CodeTTL is the lifetime of an authorization code. Default 2 min.
	CodeTTL time.Duration
	// KeyAlg is the algorithm of the first signing key made on a new
	// installation: ES256 (default) or RS256.
	KeyAlg string
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.AccessTokenTTL, 10*time.Minute)
	set(&c.IDTokenTTL, 10*time.Minute)
	set(&c.RefreshTokenTTL, 30*24*time.Hour)
	set(&c.AuthRequestTTL, 30*time.Minute)
	set(&c.CodeTTL, 2*time.Minute)
	if c.KeyAlg == "" {
		c.KeyAlg = AlgES256
	}
}

// Accounts is what the provider needs of the identity block.
type Accounts interface {
	Account(ctx context.Context, id string) (*identity.Account, error)
	AccountActive(ctx context.Context, id string) (bool, error)
	SignOut(ctx context.Context, token string) error
}

// Service is the OpenID Provider's state: clients, grants, consents and
// keys. It implements op.Storage.
type Service struct {
	cfg      Config
	db       *storage.DB
	audit    *audit.Log
	clock    platform.Clock
	box      *secrets.Box
	accounts Accounts
	keys     keyRing
	clients  clientCache
	// jwtSigner is SignJWT's signer for the active key (*cachedSigner).
	jwtSigner atomic.Pointer[cachedSigner]
}

// New returns the provider's storage and services. It does not touch the
// database; the first signing key is made on first use.
//
// Every argument but cfg is required: a nil one is refused with an error
// naming it.
func New(cfg Config, db *storage.DB, log *audit.Log, clock platform.Clock, box *secrets.Box, accounts Accounts) (*Service, error) {
	if err := platform.Required("oidc",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil},
		platform.Dep{Name: "secrets box", Missing: box == nil},
		platform.Dep{Name: "accounts", Missing: accounts == nil}); err != nil {
		return nil, err
	}
	cfg.defaults()
	return &Service{cfg: cfg, db: db, audit: log, clock: clock, box: box, accounts: accounts}, nil
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }
