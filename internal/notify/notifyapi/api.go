// Package notifyapi is the notification block's GOV.UK Notify-compatible
// REST API (v2): agencies point Notify's client libraries at Portico and
// send email and SMS from their templates, read their notifications and
// templates and preview templates. Authentication, error bodies, error
// messages and rate limits are Notify's (docs/notify.md).
package notifyapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/ratelimit"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/web"
)

// Config tunes the API.
type Config struct {
	// BaseURL returns the public URL the uri fields start with; "" uses
	// the request's Host.
	BaseURL func() string
	// RateLimit is the most requests to send per service and key type in
	// any 60 seconds (Notify: 3000). 0 means 3000; negative, no limit.
	RateLimit int
	// DailyLimit is the most messages a service sends per UTC day with
	// live and team keys (Notify's default: 250000 for live services).
	// 0 means 250000; negative, no limit.
	DailyLimit int
	// SMSSender is the content.from_number of SMS responses.
	SMSSender string
	Clock     platform.Clock
	Logger    *slog.Logger
}

// API serves /v2/.
type API struct {
	svc    *notify.Service
	cfg    Config
	rate   *ratelimit.Limiter // per service and key type, shared by every replica
	daily  *ratelimit.Limiter // per service and UTC day, likewise
	logger *slog.Logger
}

// New returns the API over svc. Sends are stored through svc.Submit (a
// group commit), so the API needs no database of its own.
func New(svc *notify.Service, db *storage.DB, cfg Config) *API {
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 3000
	}
	if cfg.DailyLimit == 0 {
		cfg.DailyLimit = 250000
	}
	if cfg.Clock == nil {
		cfg.Clock = platform.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SMSSender == "" {
		cfg.SMSSender = "Portico"
	}
	return &API{svc: svc, cfg: cfg, rate: ratelimit.New(db, "notify-minute", cfg.RateLimit, 60*time.Second, rateBuckets), daily: ratelimit.New(db, "notify-day", cfg.DailyLimit, 24*time.Hour, 1), logger: cfg.Logger}
}

// rateBuckets cuts Notify's rolling minute into 5-second buckets: a request
// leaves the window at most 5 s early, and a key's count is at most 12 rows.
const rateBuckets = 12

// Register adds the API's routes to s.
func Register(s *web.Server, a *API) {
	for pattern, h := range a.Routes() {
		s.Handle(pattern, h)
	}
}

// Routes returns the API's handlers by pattern.
func (a *API) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"POST /v2/notifications/email":            a.authSend(notify.ChannelEmail),
		"POST /v2/notifications/sms":              a.authSend(notify.ChannelSMS),
		"POST /v2/notifications/letter":           a.auth(a.postLetter),
		"GET /v2/notifications/{id}":              a.auth(a.getNotification),
		"GET /v2/notifications":                   a.auth(a.listNotifications),
		"GET /v2/template/{id}":                   a.auth(a.getTemplate),
		"GET /v2/template/{id}/version/{version}": a.auth(a.getTemplate),
		"GET /v2/templates":                       a.auth(a.listTemplates),
		"POST /v2/template/{id}/preview":          a.auth(a.preview),
		"GET /v2/received-text-messages":          a.auth(a.receivedTexts),
	}
}

// apiError is an error in Notify's shape.
type apiError struct {
	status  int
	class   string
	message string
	more    []string // further messages of the same class (validation)
	cause   error    // logged, never shown
}

func (e *apiError) Error() string { return e.message }

func badRequest(msg string) *apiError {
	return &apiError{status: 400, class: "BadRequestError", message: msg}
}
func validation(msgs ...string) *apiError {
	return &apiError{status: 400, class: "ValidationError", message: msgs[0], more: msgs[1:]}
}
func noResult() *apiError {
	return &apiError{status: 404, class: "NoResultFound", message: "No result found"}
}

type errorBody struct {
	StatusCode int         `json:"status_code"`
	Errors     []errorItem `json:"errors"`
}

type errorItem struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.status >= 500 && web.ClientGone(r) {
		// Nobody is waiting for the answer: expected, not a server error.
		a.logger.InfoContext(r.Context(), "notify api: client went away before the answer", "path", r.URL.Path, "err", e.cause)
		w.WriteHeader(web.StatusClientClosedRequest)
		return
	}
	if e.status == http.StatusInternalServerError {
		if _, ok := storage.Unavailable(e.cause); ok {
			// The database is briefly out of reach (restarting, failing
			// over): the client may try again, and Notify's clients retry
			// a 503.
			a.logger.WarnContext(r.Context(), "notify api: database unavailable: answered 503", "path", r.URL.Path, "err", e.cause)
			web.SetRetryAfter(w, e.cause)
			e = &apiError{status: http.StatusServiceUnavailable, class: "Exception", message: "Service temporarily unavailable, try again later"}
		}
	}
	if e.status >= 500 && e.cause != nil {
		a.logger.Error("notify api", "path", r.URL.Path, "err", e.cause)
	}
	b := errorBody{StatusCode: e.status, Errors: []errorItem{{e.class, e.message}}}
	for _, m := range e.more {
		b.Errors = append(b.Errors, errorItem{e.class, m})
	}
	writeJSON(w, e.status, b)
}

func internal(err error) *apiError {
	return &apiError{status: 500, class: "Exception", message: "Internal server error", cause: err}
}

type handler func(w http.ResponseWriter, r *http.Request, k notify.KeySecret) *apiError

// auth authenticates the request, then runs h.
func (a *API) auth(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, e := authenticate(r, a.svc.ServiceKeys, a.cfg.Clock.Now())
		if e == nil {
			e = h(w, r, k)
		}
		if e != nil {
			a.fail(w, r, e)
		}
	})
}

// authSend is auth for a send on channel ch. The body is read before the
// token is checked, so that the read of the key set also reads the
// latest version of the template the body names (one statement, not
// two: on PostgreSQL each is a round trip). Errors keep Notify's order:
// the token's first, then the body's.
func (a *API) authSend(ch notify.Channel) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, bodyErr := decodeBody(r, sendFields(ch)...)
		tid := ""
		if bodyErr == nil {
			if s, ok, e := stringField(m, "template_id"); ok && e == nil && uuid.Validate(s) == nil {
				tid = s
			}
		}
		version := 0
		k, e := authenticate(r, func(ctx context.Context, serviceID string) ([]notify.KeySecret, error) {
			ks, v, err := a.svc.ServiceKeysAndTemplate(ctx, serviceID, tid)
			version = v
			return ks, err
		}, a.cfg.Clock.Now())
		if e == nil {
			e = bodyErr
		}
		if e == nil {
			e = a.post(w, r, k, ch, m, version)
		}
		if e != nil {
			a.fail(w, r, e)
		}
	})
}

func (a *API) base(r *http.Request) string {
	if a.cfg.BaseURL != nil {
		if b := strings.TrimRight(a.cfg.BaseURL(), "/"); b != "" {
			return b
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// checkLimits applies the per-minute and daily limits to a send.
func (a *API) checkLimits(ctx context.Context, k notify.KeySecret) *apiError {
	now := a.cfg.Clock.Now()
	ok, err := a.rate.Allow(ctx, k.ServiceID+"/"+string(k.Type), now)
	if err != nil {
		return internal(err)
	}
	if !ok {
		return &apiError{status: 429, class: "RateLimitError",
			message: fmt.Sprintf("Exceeded rate limit for key type %s of %d requests per 60 seconds", strings.ToUpper(string(k.Type)), a.cfg.RateLimit)}
	}
	if k.Type == notify.KeyTest {
		return nil
	}
	day := now.UTC().Truncate(24 * time.Hour)
	ok, err = a.daily.AllowFrom(ctx, k.ServiceID, now, func(ctx context.Context) (int, error) {
		return a.svc.CountSince(ctx, k.AgencyID, day)
	})
	if err != nil {
		return internal(err)
	}
	if !ok {
		return &apiError{status: 429, class: "TooManyRequestsError", message: fmt.Sprintf("Exceeded send limits (%d) for today", a.cfg.DailyLimit)}
	}
	return nil
}

// decodeBody reads a JSON object, refusing properties not in allowed.
func decodeBody(r *http.Request, allowed ...string) (map[string]json.RawMessage, *apiError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, badRequest("Invalid JSON supplied in POST data")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, badRequest("Invalid JSON supplied in POST data")
	}
	var extra []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return nil, validation(fmt.Sprintf("Additional properties are not allowed (%s %s unexpected)", quoteList(extra), map[bool]string{true: "was", false: "were"}[len(extra) == 1]))
	}
	return m, nil
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = "'" + x + "'"
	}
	return strings.Join(q, ", ")
}

// stringField reads an optional string property.
func stringField(m map[string]json.RawMessage, name string) (string, bool, *apiError) {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, validation(fmt.Sprintf("%s %s is not of type string", name, string(raw)))
	}
	return s, true, nil
}

type templateRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	URI     string `json:"uri"`
}

type postResponse struct {
	ID           string      `json:"id"`
	Reference    *string     `json:"reference"`
	Content      any         `json:"content"` // emailContent or smsContent
	URI          string      `json:"uri"`
	Template     templateRef `json:"template"`
	ScheduledFor *string     `json:"scheduled_for"`
}

// emailContent and smsContent are a send's content. Their fields are in
// the order a map's keys were encoded in (sorted), so the body is the
// same bytes it was when content was a map.
type emailContent struct {
	Body                   string  `json:"body"`
	FromEmail              string  `json:"from_email"`
	OneClickUnsubscribeURL *string `json:"one_click_unsubscribe_url"`
	Subject                string  `json:"subject"`
}

type smsContent struct {
	Body       string `json:"body"`
	FromNumber string `json:"from_number"`
}

func (a *API) postLetter(http.ResponseWriter, *http.Request, notify.KeySecret) *apiError {
	return badRequest("Cannot send letters: Portico does not support letter notifications; send an email or a text message instead")
}

// sendFields are the properties a send on ch may have.
func sendFields(ch notify.Channel) []string {
	if ch == notify.ChannelSMS {
		return []string{"phone_number", "template_id", "personalisation", "reference", "sms_sender_id", "scheduled_for", "language"}
	}
	return []string{"email_address", "template_id", "personalisation", "reference", "email_reply_to_id", "one_click_unsubscribe_url", "scheduled_for", "language"}
}

// post sends the message body m describes on ch with key k. version is
// the template's latest version as read with the keys (0: read it again).
func (a *API) post(w http.ResponseWriter, r *http.Request, k notify.KeySecret, ch notify.Channel, m map[string]json.RawMessage, version int) *apiError {
	recipientField := "email_address"
	if ch == notify.ChannelSMS {
		recipientField = "phone_number"
	}
	var missing []string
	for _, f := range []string{recipientField, "template_id"} {
		if _, ok := m[f]; !ok {
			missing = append(missing, f+" is a required property")
		}
	}
	if len(missing) > 0 {
		return validation(missing...)
	}
	to, _, e := stringField(m, recipientField)
	if e != nil {
		return e
	}
	tid, _, e := stringField(m, "template_id")
	if e != nil {
		return e
	}
	if _, err := uuid.Parse(tid); err != nil {
		return validation("template_id is not a valid UUID")
	}
	ref, hasRef, e := stringField(m, "reference")
	if e != nil {
		return e
	}
	lang, _, e := stringField(m, "language")
	if e != nil {
		return e
	}
	unsub, _, e := stringField(m, "one_click_unsubscribe_url")
	if e != nil {
		return e
	}
	if s, ok, _ := stringField(m, "scheduled_for"); ok && s != "" {
		return badRequest("Cannot schedule notifications (this feature is invite-only)")
	}
	for _, f := range []string{"email_reply_to_id", "sms_sender_id"} {
		if v, ok, _ := stringField(m, f); ok {
			return badRequest(fmt.Sprintf("%s %s does not exist in database for service id %s", f, v, k.ServiceID))
		}
	}
	var p notify.Personalisation
	if raw, ok := m["personalisation"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &p); err != nil {
			return validation(fmt.Sprintf("personalisation %s is not of type object", truncate(string(raw), 50)))
		}
	}
	if e := a.checkLimits(r.Context(), k); e != nil {
		return e
	}
	// Submit shares a transaction with concurrent sends (group commit) and
	// answers only once this one is committed.
	n, err := a.svc.Submit(r.Context(), notify.Message{
		TemplateID: tid, TemplateVersion: version, Channel: ch, To: to, Personalisation: p, Reference: ref, Lang: lang, UnsubscribeURL: unsub,
		AgencyID: k.AgencyID, APIKeyID: k.ID, KeyType: k.Type,
	})
	if e := sendError(err, recipientField); e != nil {
		return e
	}
	base := a.base(r)
	resp := postResponse{ID: n.ID, URI: base + "/v2/notifications/" + n.ID,
		Template: templateRef{ID: n.TemplateID, Version: n.TemplateVersion, URI: base + "/v2/template/" + n.TemplateID}}
	if hasRef {
		resp.Reference = &ref
	}
	if ch == notify.ChannelEmail {
		resp.Content = emailContent{Subject: n.Subject, Body: n.BodyText, FromEmail: a.svc.From(), OneClickUnsubscribeURL: nilIfEmpty(n.UnsubscribeURL)}
	} else {
		resp.Content = smsContent{Body: n.BodyText, FromNumber: a.cfg.SMSSender}
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// sendError turns Send's errors into Notify's.
func sendError(err error, recipientField string) *apiError {
	if err == nil {
		return nil
	}
	var me *notify.MissingError
	var tm *notify.TemplateMismatchError
	var pe *platform.Error
	switch {
	case errors.As(err, &me):
		return badRequest(me.Error())
	case errors.Is(err, notify.ErrTemplateNotFound):
		return badRequest("Template not found")
	case errors.Is(err, notify.ErrTeamRecipient):
		return badRequest("Can't send to this recipient using a team-only API key")
	case errors.As(err, &tm):
		return badRequest(tm.Error())
	case errors.As(err, &pe) && pe.Code == platform.CodeInvalid:
		switch pe.Field {
		case "to":
			return validation("email_address Not a valid email address")
		case "phone_number":
			return validation("phone_number Not a valid phone number")
		case "reference":
			return validation("reference " + pe.Message)
		case "unsubscribe_url":
			return validation("one_click_unsubscribe_url is not a valid https URL")
		}
		return badRequest(pe.Message)
	}
	return internal(err)
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// notificationJSON is GET /v2/notifications/{id}'s body.
type notificationJSON struct {
	ID                     string      `json:"id"`
	Reference              *string     `json:"reference"`
	EmailAddress           *string     `json:"email_address"`
	PhoneNumber            *string     `json:"phone_number"`
	Line1                  *string     `json:"line_1"`
	Line2                  *string     `json:"line_2"`
	Line3                  *string     `json:"line_3"`
	Line4                  *string     `json:"line_4"`
	Line5                  *string     `json:"line_5"`
	Line6                  *string     `json:"line_6"`
	Postcode               *string     `json:"postcode"`
	Postage                *string     `json:"postage"`
	Type                   string      `json:"type"`
	Status                 string      `json:"status"`
	Template               templateRef `json:"template"`
	Body                   string      `json:"body"`
	Subject                *string     `json:"subject"`
	CreatedAt              string      `json:"created_at"`
	CreatedByName          *string     `json:"created_by_name"`
	SentAt                 *string     `json:"sent_at"`
	CompletedAt            *string     `json:"completed_at"`
	ScheduledFor           *string     `json:"scheduled_for"`
	OneClickUnsubscribeURL *string     `json:"one_click_unsubscribe_url"`
}

// externalStatus is the status a client sees. Between attempts a message
// is "sending" to clients: Notify's temporary-failure is final, ours is not.
func externalStatus(s notify.Status) string {
	if s == notify.StatusTemporaryFailure {
		return string(notify.StatusSending)
	}
	return string(s)
}

func timePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := notify.NotifyTime(t)
	return &s
}

func (a *API) toJSON(r *http.Request, n notify.Notification) notificationJSON {
	j := notificationJSON{ID: n.ID, Type: string(n.Channel), Status: externalStatus(n.Status), Body: n.BodyText, CreatedAt: notify.NotifyTime(n.CreatedAt),
		SentAt: timePtr(n.SentAt), CompletedAt: timePtr(n.CompletedAt),
		Template: templateRef{ID: n.TemplateID, Version: n.TemplateVersion, URI: a.base(r) + "/v2/template/" + n.TemplateID}}
	if n.Reference != "" {
		j.Reference = &n.Reference
	}
	if n.Channel == notify.ChannelEmail {
		j.EmailAddress, j.Subject = &n.Recipient, &n.Subject
		if n.UnsubscribeURL != "" {
			j.OneClickUnsubscribeURL = &n.UnsubscribeURL
		}
	} else {
		j.PhoneNumber = &n.Recipient
	}
	return j
}

func (a *API) visible(k notify.KeySecret, n notify.Notification) bool {
	// An agency sees its own API notifications; test keys see only test
	// notifications and other keys none of them, as in Notify.
	if n.AgencyID != k.AgencyID || n.APIKeyID == "" || n.Channel == notify.ChannelInApp {
		return false
	}
	return (k.Type == notify.KeyTest) == (n.KeyType == notify.KeyTest)
}

func (a *API) getNotification(w http.ResponseWriter, r *http.Request, k notify.KeySecret) *apiError {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		return validation("notification_id is not a valid UUID")
	}
	n, err := a.svc.Get(r.Context(), id)
	if platform.ErrorCode(err) == platform.CodeNotFound || err == nil && !a.visible(k, n) {
		return noResult()
	}
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, a.toJSON(r, n))
	return nil
}

// PageSize is how many notifications a list returns (Notify: 250).
const PageSize = 250

var knownStatuses = []string{"cancelled", "created", "sending", "sent", "delivered", "pending", "failed", "technical-failure", "temporary-failure", "permanent-failure",
	"pending-virus-check", "validation-failed", "virus-scan-failed", "returned-letter", "accepted", "received"}

func (a *API) listNotifications(w http.ResponseWriter, r *http.Request, k notify.KeySecret) *apiError {
	q := r.URL.Query()
	f := notify.Filter{AgencyID: k.AgencyID, Limit: PageSize, Reference: q.Get("reference")}
	if k.Type == notify.KeyTest {
		f.OnlyKeyType = notify.KeyTest
	} else {
		f.NotKeyType = notify.KeyTest
	}
	switch tt := q.Get("template_type"); tt {
	case "":
	case "email", "sms":
		f.Channel = notify.Channel(tt)
	case "letter":
		f.Channel = "letter" // none: Portico sends no letters
	default:
		return validation(fmt.Sprintf("template_type %s is not one of [sms, email, letter]", tt))
	}
	var bad []string
	for _, st := range q["status"] {
		if !slices.Contains(knownStatuses, st) {
			bad = append(bad, fmt.Sprintf("status %s is not one of [%s]", st, strings.Join(knownStatuses, ", ")))
			continue
		}
		switch st {
		case "sending":
			f.Statuses = append(f.Statuses, notify.StatusSending, notify.StatusTemporaryFailure)
		case "failed":
			f.Statuses = append(f.Statuses, notify.StatusPermanentFailure, notify.StatusTechnicalFailure)
		default:
			f.Statuses = append(f.Statuses, notify.Status(st))
		}
	}
	if len(bad) > 0 {
		return validation(bad...)
	}
	if len(q["status"]) > 0 && len(f.Statuses) == 0 {
		f.Statuses = []notify.Status{"none"}
	}
	if ot := q.Get("older_than"); ot != "" {
		if _, err := uuid.Parse(ot); err != nil {
			return validation("older_than is not a valid UUID")
		}
		f.Before = ot
	}
	var out []notificationJSON
	if f.Channel != "letter" {
		f.Limit = PageSize + 50 // room for the inbox rows the filter drops
		ns, err := a.svc.List(r.Context(), f)
		if err != nil {
			return internal(err)
		}
		for _, n := range ns {
			if a.visible(k, n) && len(out) < PageSize {
				out = append(out, a.toJSON(r, n))
			}
		}
	}
	if out == nil {
		out = []notificationJSON{}
	}
	cur := a.base(r) + "/v2/notifications"
	if enc := q.Encode(); enc != "" {
		cur += "?" + enc
	}
	links := map[string]string{"current": cur}
	if len(out) == PageSize {
		nq := url.Values{}
		for key, v := range q {
			nq[key] = v
		}
		nq.Set("older_than", out[len(out)-1].ID)
		links["next"] = a.base(r) + "/v2/notifications?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": out, "links": links})
	return nil
}

// templateJSON is Notify's template response.
type templateJSON struct {
	ID                 string                     `json:"id"`
	Name               string                     `json:"name"`
	Type               string                     `json:"type"`
	CreatedAt          string                     `json:"created_at"`
	UpdatedAt          *string                    `json:"updated_at"`
	CreatedBy          string                     `json:"created_by"`
	Version            int                        `json:"version"`
	Body               string                     `json:"body"`
	Subject            *string                    `json:"subject"`
	LetterContactBlock *string                    `json:"letter_contact_block"`
	Postage            *string                    `json:"postage"`
	Personalisation    map[string]map[string]bool `json:"personalisation"`
}

func toTemplateJSON(t notify.Template) templateJSON {
	j := templateJSON{ID: t.ID, Name: t.Name, Type: string(t.Type), CreatedAt: notify.NotifyTime(t.CreatedAt), CreatedBy: t.CreatedBy, Version: t.Version, Body: t.Body,
		Personalisation: map[string]map[string]bool{}}
	if t.Version > 1 {
		j.UpdatedAt = timePtr(t.UpdatedAt)
	}
	if t.Type == notify.TemplateEmail {
		j.Subject = &t.Subject
	}
	for _, p := range notify.Placeholders(t.Subject, t.Body) {
		j.Personalisation[p] = map[string]bool{"required": true}
	}
	return j
}

// template loads the {id} (and {version}) of r for key k.
func (a *API) template(r *http.Request, k notify.KeySecret) (notify.Template, *apiError) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		return notify.Template{}, validation("id is not a valid UUID")
	}
	version := 0
	if v := r.PathValue("version"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &version); err != nil || version < 1 || fmt.Sprint(version) != v {
			return notify.Template{}, validation(fmt.Sprintf("version %s is not of type integer, null", v))
		}
	}
	t, err := a.svc.Template(r.Context(), id, version)
	if platform.ErrorCode(err) == platform.CodeNotFound || err == nil && t.AgencyID != k.AgencyID {
		return t, noResult()
	}
	if err != nil {
		return t, internal(err)
	}
	return t, nil
}

func (a *API) getTemplate(w http.ResponseWriter, r *http.Request, k notify.KeySecret) *apiError {
	t, e := a.template(r, k)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toTemplateJSON(t))
	return nil
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request, k notify.KeySecret) *apiError {
	typ := r.URL.Query().Get("type")
	switch typ {
	case "", "email", "sms":
	case "letter":
		writeJSON(w, http.StatusOK, map[string]any{"templates": []templateJSON{}})
		return nil
	default:
		return validation(fmt.Sprintf("type %s is not one of [sms, email, letter]", typ))
	}
	ts, err := a.svc.Templates(r.Context(), k.AgencyID, notify.TemplateType(typ))
	if err != nil {
		return internal(err)
	}
	out := make([]templateJSON, len(ts))
	for i, t := range ts {
		out[i] = toTemplateJSON(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"templates": out})
	return nil
}

// receivedTexts answers Notify's inbound SMS list. Portico receives no text
// messages yet, so the list is empty, in Notify's shape.
func (a *API) receivedTexts(w http.ResponseWriter, r *http.Request, _ notify.KeySecret) *apiError {
	if ot := r.URL.Query().Get("older_than"); ot != "" {
		if _, err := uuid.Parse(ot); err != nil {
			return validation("older_than is not a valid UUID")
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"received_text_messages": []any{},
		"links": map[string]string{"current": a.base(r) + "/v2/received-text-messages"}})
	return nil
}

func (a *API) preview(w http.ResponseWriter, r *http.Request, k notify.KeySecret) *apiError {
	t, e := a.template(r, k)
	if e != nil {
		return e
	}
	m, e := decodeBody(r, "personalisation", "language")
	if e != nil {
		return e
	}
	var p notify.Personalisation
	if raw, ok := m["personalisation"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &p); err != nil {
			return validation(fmt.Sprintf("personalisation %s is not of type object", truncate(string(raw), 50)))
		}
	}
	lang, _, e := stringField(m, "language")
	if e != nil {
		return e
	}
	out, err := t.Render(lang, p)
	var me *notify.MissingError
	if errors.As(err, &me) {
		return badRequest(me.Error())
	}
	if err != nil {
		return internal(err)
	}
	resp := map[string]any{"id": t.ID, "type": t.Type, "version": t.Version, "body": out.Text, "subject": nil, "html": nil}
	if t.Type == notify.TemplateEmail {
		resp["subject"], resp["html"] = out.Subject, out.HTML
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
