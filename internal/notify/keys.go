package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// KeyType is a GOV.UK Notify API key type.
type KeyType string

// Key types: live keys send to anyone; team keys only to the agency's
// staff; test keys send nothing and report "delivered".
const (
	KeyLive KeyType = "live"
	KeyTeam KeyType = "team"
	KeyTest KeyType = "test"
)

// APIKey is an agency's key for the Notify-compatible API. Its secret is
// shown once, in the key string CreateAPIKey returns.
type APIKey struct {
	ID        string    `json:"id"`
	AgencyID  string    `json:"agency_id"`
	ServiceID string    `json:"service_id"`
	Name      string    `json:"name"`
	Type      KeyType   `json:"key_type"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// KeySecret is a key with its secret, for checking a token's signature.
type KeySecret struct {
	APIKey
	Secret string
}

// ServiceID returns the agency's Notify service id (the uuid in its API
// keys and in the iss of its tokens), creating it on first use.
func (s *Service) ServiceID(ctx context.Context, agencyID string) (string, error) {
	var id string
	err := s.db.Read().QueryRowContext(ctx, `SELECT service_id FROM notify_services WHERE agency_id = $1`, agencyID).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("notify: service id: %w", err)
	}
	id = uuid.NewString()
	if _, err := s.db.Write().ExecContext(ctx, `INSERT INTO notify_services (agency_id, service_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (agency_id) DO NOTHING`,
		agencyID, id, s.clock.Now().UTC()); err != nil {
		return "", fmt.Errorf("notify: create service id: %w", err)
	}
	if err := s.db.Write().QueryRowContext(ctx, `SELECT service_id FROM notify_services WHERE agency_id = $1`, agencyID).Scan(&id); err != nil {
		return "", fmt.Errorf("notify: service id: %w", err)
	}
	return id, nil
}

// AgencyForService returns the agency whose service id is serviceID, or
// CodeNotFound.
func (s *Service) AgencyForService(ctx context.Context, serviceID string) (string, error) {
	var agency string
	err := s.db.Read().QueryRowContext(ctx, `SELECT agency_id FROM notify_services WHERE service_id = $1`, serviceID).Scan(&agency)
	if errors.Is(err, sql.ErrNoRows) {
		return "", platform.Errorf(platform.CodeNotFound, "service not found")
	}
	return agency, err
}

func (s *Service) needBox() error {
	if s.box == nil {
		return errors.New("notify: no secrets key configured (a wiring bug)")
	}
	return nil
}

// CreateAPIKey makes a key for agencyID and returns it with the key string,
// "{name}-{service id}-{secret}", which is shown only this once.
func (s *Service) CreateAPIKey(ctx context.Context, agencyID, name string, typ KeyType) (APIKey, string, error) {
	if err := s.needBox(); err != nil {
		return APIKey{}, "", err
	}
	name = strings.TrimSpace(name)
	if err := checkText("name", name, 255, true); err != nil {
		return APIKey{}, "", err
	}
	if typ == "" {
		typ = KeyLive
	}
	if typ != KeyLive && typ != KeyTeam && typ != KeyTest {
		return APIKey{}, "", platform.Invalid("type", fmt.Sprintf("The key type %q must be live, team or test", typ))
	}
	sid, err := s.ServiceID(ctx, agencyID)
	if err != nil {
		return APIKey{}, "", err
	}
	k := APIKey{ID: uuid.NewString(), AgencyID: agencyID, ServiceID: sid, Name: name, Type: typ, CreatedAt: s.clock.Now().UTC().Truncate(time.Microsecond)}
	secret := uuid.NewString()
	sealed, err := s.box.Seal(secret, "notify-key:"+k.ID)
	if err != nil {
		return APIKey{}, "", err
	}
	if _, err := s.db.Write().ExecContext(ctx, `INSERT INTO notify_api_keys (id, service_id, name, key_type, secret, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, sid, name, typ, sealed, s.box.MAC("notify-key:"+secret), k.CreatedAt); err != nil {
		return APIKey{}, "", fmt.Errorf("notify: create key: %w", err)
	}
	return k, name + "-" + sid + "-" + secret, nil
}

// APIKeys lists an agency's keys, newest first.
func (s *Service) APIKeys(ctx context.Context, agencyID string) ([]APIKey, error) {
	ks, err := s.keys(ctx, `s.agency_id = $1`, agencyID)
	out := make([]APIKey, len(ks))
	for i, k := range ks {
		out[i] = k.APIKey
	}
	return out, err
}

// ServiceKeys returns the keys (with secrets) of serviceID, for
// authenticating a token. An unknown service returns CodeNotFound.
//
// A key whose secret cannot be opened (corrupt, or sealed under another
// secrets key) is left out, so the agency's other keys keep working: an
// active one is reported once per process (an error log and an audit
// entry naming it, so the agency can revoke it and issue another); a
// revoked one is skipped silently, since nothing may use it anyway.
// Revoked keys that open are returned, so a token signed with one is
// told "API key revoked" as Notify says.
func (s *Service) ServiceKeys(ctx context.Context, serviceID string) ([]KeySecret, error) {
	ks, _, err := s.ServiceKeysAndTemplate(ctx, serviceID, "")
	return ks, err
}

// ServiceKeysAndTemplate is ServiceKeys that also returns, from the same
// statement, the latest version of template templateID if the service's
// agency owns it (0: it does not, there is no such template, or
// templateID is ""). A send needs both; on PostgreSQL each read is a
// round trip to the server, so the API's sends read them together
// (issue 14). The version is read, like the keys, at every call.
func (s *Service) ServiceKeysAndTemplate(ctx context.Context, serviceID, templateID string) ([]KeySecret, int, error) {
	if err := s.needBox(); err != nil {
		return nil, 0, err
	}
	// One read answers "is there such a service", "its keys" and the
	// template's version: it runs on every API request, so it is a hot
	// statement, and it is read every time (never cached) so that a key
	// revoked, or a template updated, on any replica takes effect on
	// every replica from the next request on.
	rows, err := s.db.HotRead().QueryContext(ctx, qServiceKeys, serviceID, templateID)
	if err != nil {
		return nil, 0, fmt.Errorf("notify: keys: %w", err)
	}
	defer rows.Close()
	found := false
	version := 0
	usable := []KeySecret{}
	for rows.Next() {
		var k KeySecret
		var id, name, typ, sealed sql.NullString
		var created, revoked sql.NullTime
		var tv sql.NullInt64
		if err := rows.Scan(&k.AgencyID, &id, &name, &typ, &created, &revoked, &sealed, &tv); err != nil {
			return nil, 0, fmt.Errorf("notify: keys: %w", err)
		}
		found = true
		if tv.Valid {
			version = int(tv.Int64)
		}
		if !id.Valid {
			continue // the service has no keys: the LEFT JOIN's empty row
		}
		k.ID, k.ServiceID, k.Name, k.Type, k.CreatedAt = id.String, serviceID, name.String, KeyType(typ.String), created.Time.UTC()
		if revoked.Valid {
			k.RevokedAt = revoked.Time.UTC()
		}
		secret, err := s.openKey(k.ID, sealed.String)
		if err != nil {
			if k.RevokedAt.IsZero() {
				s.reportUnreadableKey(ctx, k, err)
			}
			continue
		}
		k.Secret = secret
		usable = append(usable, k)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("notify: keys: %w", err)
	}
	if !found {
		return nil, 0, platform.Errorf(platform.CodeNotFound, "service not found")
	}
	return usable, version, nil
}

// qServiceKeys reads a service's keys and, in every row, the latest
// version of template $2 when the service's agency owns it (NULL
// otherwise): a primary-key lookup.
const qServiceKeys = `SELECT s.agency_id, k.id, k.name, k.key_type, k.created_at, k.revoked_at, k.secret,
		(SELECT t.version FROM notify_templates t WHERE t.id = $2 AND t.agency_id = s.agency_id)
	FROM notify_services s LEFT JOIN notify_api_keys k ON k.service_id = s.service_id
	WHERE s.service_id = $1 ORDER BY k.created_at DESC, k.id`

// openedKey is a key secret as opened: the sealed text it came from and
// the secret.
type openedKey struct{ sealed, secret string }

// openKey opens the sealed secret of key id, or returns the one this
// process opened before: the opened secret is kept by key id with the
// sealed text it came from, and used only while the database still holds
// that same sealed text. It is not a once-only guarantee: requests that
// meet a key for the first time at the same moment each open it (the
// result is the same). Only the key material is kept; whether the key may
// be used (revoked_at) is read with every request.
func (s *Service) openKey(id, sealed string) (string, error) {
	if v, ok := s.openedKeys.Load(id); ok {
		if o := v.(openedKey); o.sealed == sealed {
			return o.secret, nil
		}
	}
	secret, err := s.box.Open(sealed, "notify-key:"+id)
	if err != nil {
		return "", err
	}
	s.openedKeys.Store(id, openedKey{sealed: sealed, secret: secret})
	return secret, nil
}

// reportUnreadableKey tells the operator, once per key and process, that
// an active API key cannot be opened.
func (s *Service) reportUnreadableKey(ctx context.Context, k KeySecret, cause error) {
	if _, done := s.unreadableKeys.LoadOrStore(k.ID, true); done {
		return
	}
	s.logger.ErrorContext(ctx, "notify API key cannot be opened (corrupt, or sealed under another secrets key); its tokens are refused until the agency revokes it and issues another",
		"key_id", k.ID, "agency", k.AgencyID, "name", k.Name, "err", cause)
	if s.audit == nil {
		return
	}
	// Detached from the request: the report must not be lost to a client
	// that goes away.
	if _, err := s.audit.Write(context.WithoutCancel(ctx), audit.Record{Action: "notify.key.unreadable", Subject: "notify-key:" + k.ID, AgencyID: k.AgencyID,
		Detail: map[string]string{"name": k.Name, "key_type": string(k.Type)}}); err != nil {
		s.logger.ErrorContext(ctx, "cannot audit an unreadable notify API key", "key_id", k.ID, "err", err)
		s.unreadableKeys.Delete(k.ID) // report again next time
	}
}

func (s *Service) keys(ctx context.Context, where string, arg any) ([]KeySecret, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT k.id, s.agency_id, k.service_id, k.name, k.key_type, k.created_at, k.revoked_at, k.secret
		FROM notify_api_keys k JOIN notify_services s ON s.service_id = k.service_id WHERE `+where+` ORDER BY k.created_at DESC, k.id`, arg)
	if err != nil {
		return nil, fmt.Errorf("notify: keys: %w", err)
	}
	defer rows.Close()
	out := []KeySecret{}
	for rows.Next() {
		var k KeySecret
		var revoked sql.NullTime
		if err := rows.Scan(&k.ID, &k.AgencyID, &k.ServiceID, &k.Name, &k.Type, &k.CreatedAt, &revoked, &k.Secret); err != nil {
			return nil, fmt.Errorf("notify: keys: %w", err)
		}
		k.CreatedAt = k.CreatedAt.UTC()
		if revoked.Valid {
			k.RevokedAt = revoked.Time.UTC()
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey revokes key id of agencyID; tokens signed with it are then
// refused with "Invalid token: API key revoked".
func (s *Service) RevokeAPIKey(ctx context.Context, agencyID, id string) error {
	res, err := s.db.Write().ExecContext(ctx, `UPDATE notify_api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL
		AND service_id IN (SELECT service_id FROM notify_services WHERE agency_id = $3)`, s.clock.Now().UTC(), id, agencyID)
	if err != nil {
		return fmt.Errorf("notify: revoke key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return platform.Errorf(platform.CodeNotFound, "no active key %q for agency %q", id, agencyID)
	}
	return nil
}

// SetCallback sets where the agency's delivery receipts are posted and the
// bearer token they carry (as Notify's "callback URL" and "bearer token").
// An empty URL turns callbacks off. The URL must be https (http is allowed
// only with Config.AllowHTTPCallbacks); the token at least 10 characters.
func (s *Service) SetCallback(ctx context.Context, agencyID, rawURL, token string) error {
	if err := s.needBox(); err != nil {
		return err
	}
	sealed := ""
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && !(s.allowHTTPCB && u.Scheme == "http")) {
			return platform.Invalid("url", "The callback URL must be an https:// address")
		}
		host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		ip := net.ParseIP(host)
		internal := host == "localhost" || strings.HasSuffix(host, ".localhost") ||
			ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())
		if internal && !s.allowHTTPCB {
			return platform.Invalid("url", "The callback URL must not be a private address")
		}
		if len(token) < 10 || len(token) > 1000 || strings.ContainsAny(token, " \r\n") {
			return platform.Invalid("token", "The bearer token must be 10 to 1000 characters without spaces")
		}
		if sealed, err = s.box.Seal(token, "notify-callback:"+agencyID); err != nil {
			return err
		}
	}
	if _, err := s.ServiceID(ctx, agencyID); err != nil {
		return err
	}
	_, err := s.db.Write().ExecContext(ctx, `UPDATE notify_services SET callback_url = $1, callback_token = $2 WHERE agency_id = $3`, rawURL, sealed, agencyID)
	return err
}
