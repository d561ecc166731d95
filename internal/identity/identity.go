// Package identity is the one account a person has for all of government,
// and the staff accounts of agencies: sign-up with a confirmed email,
// passwords (NIST SP 800-63B-4), second factors (TOTP with recovery codes;
// passkeys), throttling, server-side sessions, profiles and staff roles.
//
// Contracts:
//   - No account enumeration: sign-up, sign-in and recovery answer the same
//     way whether or not an address has an account; the difference is only
//     in the email that the address's owner receives.
//   - Every sign-in, failed sign-in, factor change and profile change is
//     appended to the audit log in the same transaction as the change.
//   - Account recovery never bypasses a configured second factor.
//   - Staff accounts must have a second factor before they can do anything.
package identity

import (
	"context"
	"database/sql"
	"encoding/json"
	"sync"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"

	"github.com/portico-gov/portico/internal/identity/password"
)

// Kind of account.
type Kind string

// Account kinds.
const (
	Citizen Kind = "citizen"
	Staff   Kind = "staff"
)

// Role is a staff member's role in one agency.
type Role string

// Staff roles. Platform administration is a flag on the account, not an
// agency role.
const (
	AgencyAdmin Role = "agency_admin"
	Caseworker  Role = "caseworker"
	Finance     Role = "finance"
	Auditor     Role = "auditor" // read-only
)

// Roles lists the agency roles.
var Roles = []Role{AgencyAdmin, Caseworker, Finance, Auditor}

// Address is a postal address.
type Address struct {
	Line1 string `json:"line1,omitempty"`
	Line2 string `json:"line2,omitempty"`
	City  string `json:"city,omitempty"`
	State string `json:"state,omitempty"`
	ZIP   string `json:"zip,omitempty"`
}

// IsZero reports whether no part of the address is set.
func (a Address) IsZero() bool { return a == Address{} }

// Account is a person's account.
type Account struct {
	ID              string    `json:"id"`
	Kind            Kind      `json:"kind"`
	Email           string    `json:"email"`
	EmailVerified   bool      `json:"email_verified"`
	PlatformAdmin   bool      `json:"platform_admin"`
	LegalName       string    `json:"legal_name"`
	DateOfBirth     string    `json:"date_of_birth,omitempty"`
	Phone           string    `json:"phone,omitempty"`
	Lang            string    `json:"lang"`
	Residential     Address   `json:"residential_address"`
	Mailing         Address   `json:"mailing_address"`
	TOTPEnabled     bool      `json:"totp_enabled"`
	CreatedAt       time.Time `json:"created_at"`
	Disabled        bool      `json:"disabled"`
	Memberships     []Member  `json:"memberships,omitempty"`
	PasskeyCount    int       `json:"passkeys"`
	passwordHash    string
	totpSecret      string
	totpLastStep    int64
	emailVerifiedAt *time.Time
}

// HasSecondFactor reports whether a second factor protects the account.
func (a *Account) HasSecondFactor() bool { return a.TOTPEnabled || a.PasskeyCount > 0 }

// Actor is the account as the acting principal that blocks check: a
// citizen, or staff with their agency roles.
func (a *Account) Actor() platform.Actor {
	if a.Kind != Staff {
		return platform.Actor{Kind: platform.ActorCitizen, ID: a.ID}
	}
	act := platform.Actor{Kind: platform.ActorStaff, ID: a.ID, PlatformAdmin: a.PlatformAdmin}
	for _, m := range a.Memberships {
		act.Grants = append(act.Grants, platform.Grant{Agency: m.AgencyID, Role: string(m.Role)})
	}
	return act
}

// Member is one role held in one agency.
type Member struct {
	AgencyID string `json:"agency_id"`
	Role     Role   `json:"role"`
}

// Administrator reports whether the account is staff administering the
// platform or at least one agency (the console's plug-in catalogue and its
// navigation link follow this rule).
func (a *Account) Administrator() bool {
	if a.Kind != Staff {
		return false
	}
	if a.PlatformAdmin {
		return true
	}
	for _, m := range a.Memberships {
		if m.Role == AgencyAdmin {
			return true
		}
	}
	return false
}

// HasRole reports whether the account holds one of roles in agency.
func (a *Account) HasRole(agency string, roles ...Role) bool {
	for _, m := range a.Memberships {
		if m.AgencyID != agency {
			continue
		}
		for _, r := range roles {
			if m.Role == r {
				return true
			}
		}
	}
	return false
}

// Message is an email identity asks the notification block to send.
type Message struct {
	To       string
	Subject  string
	Text     string
	Lang     string
	Critical bool // security messages: always email, never suppressed
}

// Mailer sends email through the notification block's outbox: the message
// must be stored in tx and delivered only if tx commits.
type Mailer interface {
	SendEmail(ctx context.Context, tx *sql.Tx, m Message) error
}

// Resolver finds the jurisdictions that serve a ZIP code.
type Resolver interface {
	ResolveZIP(ctx context.Context, zip string) ([]tenancy.Jurisdiction, error)
}

// Config holds the numbers that govern authentication. The defaults follow
// NIST SP 800-63B-4 and Login.gov (see docs/identity.md).
type Config struct {
	SessionIdle     time.Duration // default 30 min
	SessionAbsolute time.Duration // default 12 h
	ReauthAfter     time.Duration // re-authenticate for sensitive changes after this; default 15 min
	CodeTTL         time.Duration // email codes; default 10 min
	CodeAttempts    int           // wrong codes before a code is dead; default 5
	// Account throttling: after AccountFailures failed sign-ins within
	// AccountWindow the account is locked for AccountLockout.
	AccountFailures int           // default 5
	AccountWindow   time.Duration // default 60 s
	AccountLockout  time.Duration // default 10 min
	// Per-IP throttling of failed attempts across accounts.
	IPFailures int           // default 30
	IPWindow   time.Duration // default 5 min
	IPLockout  time.Duration // default 10 min
	// EmailsPerWindow caps codes sent to one address per CodeTTL; default 3.
	EmailsPerWindow int
	PasswordParams  password.Params
	PublicURL       string // for links in emails
	SiteName        string
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	seti := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	set(&c.SessionIdle, 30*time.Minute)
	set(&c.SessionAbsolute, 12*time.Hour)
	set(&c.ReauthAfter, 15*time.Minute)
	set(&c.CodeTTL, 10*time.Minute)
	seti(&c.CodeAttempts, 5)
	seti(&c.AccountFailures, 5)
	set(&c.AccountWindow, time.Minute)
	set(&c.AccountLockout, 10*time.Minute)
	seti(&c.IPFailures, 30)
	set(&c.IPWindow, 5*time.Minute)
	set(&c.IPLockout, 10*time.Minute)
	seti(&c.EmailsPerWindow, 3)
	if c.PasswordParams == (password.Params{}) {
		c.PasswordParams = password.Default
	}
	if c.SiteName == "" {
		c.SiteName = "Portico"
	}
}

// Service is the identity block.
type Service struct {
	cfg Config // immutable: the app builds blocks once the public URL is final
	// dummyOnce/dummyHash: see dummy.
	dummyOnce sync.Once
	dummyHash string
	db        *storage.DB
	audit     *audit.Log
	clock     platform.Clock
	box       *secrets.Box
	mailer    Mailer
	resolver  Resolver
}

// New returns the identity service.
//
// Every argument but cfg is required: a nil one is refused with an error
// naming it.
func New(cfg Config, db *storage.DB, log *audit.Log, clock platform.Clock, box *secrets.Box, mailer Mailer, resolver Resolver) (*Service, error) {
	if err := platform.Required("identity",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil},
		platform.Dep{Name: "secrets box", Missing: box == nil},
		platform.Dep{Name: "mailer", Missing: mailer == nil},
		platform.Dep{Name: "jurisdiction resolver", Missing: resolver == nil}); err != nil {
		return nil, err
	}
	cfg.defaults()
	return &Service{cfg: cfg, db: db, audit: log, clock: clock, box: box, mailer: mailer, resolver: resolver}, nil
}

// Now returns the service clock's time.
func (s *Service) Now() time.Time { return s.clock.Now() }

// PublicURL is the site's address, used in email links and as the
// passkey relying party.
func (s *Service) PublicURL() string { return s.cfg.PublicURL }

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with plain structs
	}
	return string(b)
}
