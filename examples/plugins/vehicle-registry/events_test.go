package vehicleregistry_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
)

func TestReceiveEvents(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	s := vehicleregistry.NewServer(vehicleregistry.Config{Issuer: "http://127.0.0.1:1", WebhookSecret: func() (string, error) { return secret, nil }})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"specversion":"1.0","id":"ev-1","source":"/portico/casework","type":"gov.portico.case.transitioned","time":"2026-12-05T10:00:00Z","porticoagency":"dmv","data":{}}`)
	post := func(id string, ts time.Time, b []byte, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/portico/events", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/cloudevents+json")
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now()
	good, _ := wh.Sign("ev-1", now, body)
	old, _ := wh.Sign("ev-1", now.Add(-10*time.Minute), body)
	for _, tc := range []struct {
		name string
		id   string
		ts   time.Time
		body []byte
		sig  string
		want int
	}{
		{"signed", "ev-1", now, body, good, http.StatusNoContent},
		{"again (a retry)", "ev-1", now, body, "v2,x " + good, http.StatusNoContent},
		{"body changed", "ev-1", now, append([]byte(" "), body...), good, http.StatusUnauthorized},
		{"too old", "ev-1", now.Add(-10 * time.Minute), body, old, http.StatusUnauthorized},
		{"no signature", "ev-1", now, body, "", http.StatusUnauthorized},
		{"other secret", "ev-1", now, body, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", http.StatusUnauthorized},
	} {
		if got := post(tc.id, tc.ts, tc.body, tc.sig); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if evs := s.Events(); len(evs) != 1 || evs[0].ID != "ev-1" || evs[0].Agency != "dmv" {
		t.Errorf("events = %+v, want ev-1 once", evs)
	}
}
