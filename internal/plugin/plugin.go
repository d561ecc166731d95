// Package plugin is the block that makes Portico a platform: agency
// systems and private providers plug microservices in as data, without
// changing Portico's code, and any agency may reuse them (ADR 31).
//
// A plug-in is described by a manifest (YAML, validated against the JSON
// Schema 2020-12 in schema.json and against its own OpenAPI 3.0/3.1
// document, manifest.go). The registry (this file and registry.go) keeps
// registered plug-ins, which agencies have enabled each one and with what
// personal data, and the access rights of their services: which service
// (or every service, "*") of an agency may call which operation, carrying
// which data. Allowed is the check the gateway makes before each call;
// everything not explicitly allowed is refused and audited.
//
// Policy lives here (methods take the acting platform.Actor):
//
//   - register, re-register and remove: the provider, i.e. an agency
//     administrator of the providing agency, or for a private provider a
//     platform administrator; the operator at the CLI may do all of it;
//   - enable and disable for an agency: an agency administrator of that
//     agency (any agency may enable any plug-in: reuse is the point), a
//     platform administrator or the operator;
//   - remove while agencies have it enabled: only with force, by a
//     platform administrator or the operator;
//   - list and read the catalogue: staff, the operator and the platform.
//
// Every change is audited in the same transaction (audit.Log.Append).
// Tables: plugins, plugin_enablements, plugin_access (migration 00026).
package plugin

import (
	"sync"
	"sync/atomic"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
)

// Config is what the registry needs besides its dependencies.
type Config struct {
	// EventTypes are the types of the event log that plug-ins may ask
	// for (internal/app lists them from the blocks that emit them).
	EventTypes []string
}

// Service is the plug-in registry.
type Service struct {
	db    *storage.DB
	log   *audit.Log
	clock platform.Clock
	box   *secrets.Box
	cfg   Config

	manifests sync.Map // plug-in id → *parsed, the access check's manifests (access.go)
	// decisions are the access check's answers for one registry revision
	// (access.go); replaced as a whole when the revision moves.
	decisions atomic.Pointer[decisionSet]
}

// New returns the registry.
func New(db *storage.DB, log *audit.Log, clock platform.Clock, box *secrets.Box, cfg Config) (*Service, error) {
	if err := platform.Required("plugin", platform.Dep{Name: "database", Missing: db == nil}, platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil}, platform.Dep{Name: "secrets box", Missing: box == nil}); err != nil {
		return nil, err
	}
	return &Service{db: db, log: log, clock: clock, box: box, cfg: cfg}, nil
}

// Enablement statuses.
const (
	StatusEnabled       = "enabled"
	StatusDisabled      = "disabled"
	StatusNeedsApproval = "needs_approval" // the plug-in asks for more data than was approved
)

// AllServices in an access right means every service of the agency.
const AllServices = "*"

// Policy.

func isPlatform(a platform.Actor) bool {
	return a.Kind == platform.ActorOperator || a.Kind == platform.ActorSystem || (a.Kind == platform.ActorStaff && a.PlatformAdmin)
}

// canProvide: may a register, re-register or remove a plug-in of p?
func canProvide(a platform.Actor, p Provider) bool {
	if isPlatform(a) {
		return true
	}
	return !p.Private() && a.HasRole(p.Agency, "agency_admin")
}

// canAdminAgency: may a enable or disable plug-ins for agency?
func canAdminAgency(a platform.Actor, agency string) bool {
	return isPlatform(a) || a.HasRole(agency, "agency_admin")
}

// canRead: may a see the catalogue?
func canRead(a platform.Actor) error {
	switch {
	case isPlatform(a) || a.Kind == platform.ActorStaff && a.ID != "":
		return nil
	case a.Kind == platform.ActorAnonymous || a.ID == "":
		return platform.Errorf(platform.CodeUnauthorized, "sign in to see the plug-in catalogue")
	}
	return platform.Errorf(platform.CodeForbidden, "only staff may see the plug-in catalogue")
}
