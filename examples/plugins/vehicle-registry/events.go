package vehicleregistry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Event is a CloudEvent Portico delivered to the webhook (plugin.yaml's
// webhook, /portico/events).
type Event struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Source  string          `json:"source"`
	Subject string          `json:"subject"`
	Time    time.Time       `json:"time"`
	Agency  string          `json:"porticoagency"`
	Data    json.RawMessage `json:"data"`
}

// verifyWebhook checks a request the Standard Webhooks way (docs/plugins.md,
// "Events"): HMAC-SHA256 keyed with the secret's bytes over
// "id.timestamp.body", any of the space-separated "v1," signatures, and a
// timestamp within five minutes of now.
func verifyWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not Unix seconds")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("webhook-timestamp is more than five minutes from now")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return errors.New("the webhook secret is not whsec_ and base64")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		if b64, ok := strings.CutPrefix(s, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return errors.New("no signature matches")
}

// receiveEvent is POST /portico/events: verify, ignore a repeat (the
// webhook-id is the event id, the same on every retry), keep the event.
func (s *Server) receiveEvent(w http.ResponseWriter, r *http.Request) {
	if s.webhookSecret == nil {
		problem(w, http.StatusServiceUnavailable, "Not configured", "this server has no webhook secret yet")
		return
	}
	secret, err := s.webhookSecret()
	if err != nil || secret == "" {
		problem(w, http.StatusServiceUnavailable, "Not configured", "this server has no webhook secret yet")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		problem(w, http.StatusBadRequest, "Unreadable body", err.Error())
		return
	}
	if err := verifyWebhook(secret, r.Header, body, s.now()); err != nil {
		problem(w, http.StatusUnauthorized, "Bad signature", err.Error())
		return
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID != r.Header.Get("webhook-id") {
		problem(w, http.StatusBadRequest, "Not a CloudEvent", "the body is not the CloudEvent the webhook-id names")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.seen[e.ID] {
		s.seen[e.ID] = true
		s.events = append(s.events, e)
	}
	w.WriteHeader(http.StatusNoContent)
}

// Events are the events received so far, each once.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}
