package pluginsdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/pkg/pluginsdk"
	"github.com/portico-gov/portico/pkg/pluginsdk/pluginsdktest"
)

// The Standard Webhooks specification's published example.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func headers(id, ts, sig string) http.Header {
	h := http.Header{}
	for k, v := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig} {
		if v != "" {
			h.Set(k, v)
		}
	}
	return h
}

func TestVerifyWebhookSpecVector(t *testing.T) {
	at := time.Unix(specTS, 0)
	if got, err := pluginsdk.SignWebhook(specSecret, specID, at, []byte(specBody)); err != nil || got != specSig {
		t.Fatalf("SignWebhook = %q, %v; the specification says %q", got, err, specSig)
	}
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		reason pluginsdk.WebhookReason
	}{
		{"spec example", specSecret, headers(specID, "1614265330", specSig), specBody, at, ""},
		{"several signatures, one matches", specSecret, headers(specID, "1614265330", "v1,Zm9v "+specSig+" v2,YmFy"), specBody, at, ""},
		{"4 minutes late", specSecret, headers(specID, "1614265330", specSig), specBody, at.Add(4 * time.Minute), ""},
		{"4 minutes early", specSecret, headers(specID, "1614265330", specSig), specBody, at.Add(-4 * time.Minute), ""},
		{"6 minutes late", specSecret, headers(specID, "1614265330", specSig), specBody, at.Add(6 * time.Minute), pluginsdk.WebhookTimestamp},
		{"6 minutes early", specSecret, headers(specID, "1614265330", specSig), specBody, at.Add(-6 * time.Minute), pluginsdk.WebhookTimestamp},
		{"body changed", specSecret, headers(specID, "1614265330", specSig), `{"test": 2432232315}`, at, pluginsdk.WebhookSignature},
		{"id changed", specSecret, headers("msg_other", "1614265330", specSig), specBody, at, pluginsdk.WebhookSignature},
		{"timestamp changed", specSecret, headers(specID, "1614265331", specSig), specBody, at, pluginsdk.WebhookSignature},
		{"other secret", "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=", headers(specID, "1614265330", specSig), specBody, at, pluginsdk.WebhookSignature},
		{"v2 only", specSecret, headers(specID, "1614265330", strings.Replace(specSig, "v1,", "v2,", 1)), specBody, at, pluginsdk.WebhookSignature},
		{"no id", specSecret, headers("", "1614265330", specSig), specBody, at, pluginsdk.WebhookHeaders},
		{"no signature", specSecret, headers(specID, "1614265330", ""), specBody, at, pluginsdk.WebhookHeaders},
		{"timestamp in ms", specSecret, headers(specID, "1614265330000", specSig), specBody, at, pluginsdk.WebhookTimestamp},
		{"timestamp not a number", specSecret, headers(specID, "yesterday", specSig), specBody, at, pluginsdk.WebhookHeaders},
		{"secret without prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers(specID, "1614265330", specSig), specBody, at, pluginsdk.WebhookSecret},
		{"secret not base64", "whsec_!!!", headers(specID, "1614265330", specSig), specBody, at, pluginsdk.WebhookSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pluginsdk.VerifyWebhook(tt.secret, tt.h, []byte(tt.body), tt.now)
			if tt.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var we *pluginsdk.WebhookError
			if !errors.As(err, &we) || we.Reason != tt.reason {
				t.Fatalf("got %v, want reason %s", err, tt.reason)
			}
		})
	}
}

func TestWebhookHandler(t *testing.T) {
	p := pluginsdktest.New(t, plugin)
	var mu sync.Mutex
	var got []pluginsdk.Event
	srv := httptest.NewServer(pluginsdk.WebhookHandler{Secret: p.Secret, Handle: func(_ context.Context, e pluginsdk.Event) error {
		switch e.Subject {
		case "gone":
			return pluginsdk.ErrGone
		case "busy":
			return pluginsdk.RetryAfter(1500 * time.Millisecond)
		case "broken":
			return errors.New("disk full")
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
		return nil
	}})
	defer srv.Close()

	data := json.RawMessage(`{"case":{"id":"c1","reference":"ADAMS-CLERK-2026-000001","state":"approved"},"detail":{"from":"submitted"}}`)
	ev := pluginsdk.Event{ID: "ev-1", Type: pluginsdk.EventCaseTransitioned, Source: "/portico/casework", Subject: "case:c1", Agency: "adams-clerk", Data: data}
	res, err := p.SendEvent(srv.URL, ev)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("%v %v", err, res)
	}
	res.Body.Close()
	if len(got) != 1 || got[0].ID != "ev-1" || got[0].Agency != "adams-clerk" || got[0].Type != pluginsdk.EventCaseTransitioned || got[0].Time.IsZero() || got[0].SpecVersion != "1.0" {
		t.Fatalf("event: %+v", got)
	}
	var payload pluginsdk.CaseData
	if err := got[0].Decode(&payload); err != nil || payload.Case.State != "approved" || payload.Case.Reference != "ADAMS-CLERK-2026-000001" || payload.Detail["from"] != "submitted" {
		t.Fatalf("decode: %v %+v", err, payload)
	}

	post := func(h http.Header, body string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		req.Header = h
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	signed := func(ctype, body string, at time.Time) http.Header {
		sig, err := pluginsdk.SignWebhook(p.Secret, "m1", at, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		h := headers("m1", jsonNum(at.Unix()), sig)
		h.Set("Content-Type", ctype)
		return h
	}
	evBody := func(subject string) string {
		return `{"specversion":"1.0","id":"e","source":"/portico/casework","type":"gov.portico.case.closed","subject":"` + subject + `"}`
	}
	tests := []struct {
		name   string
		h      http.Header
		body   string
		status int
		want   string
	}{
		{"gone", signed(pluginsdk.ContentTypeCloudEvents, evBody("gone"), time.Now()), evBody("gone"), 410, ""},
		{"busy", signed(pluginsdk.ContentTypeCloudEvents, evBody("busy"), time.Now()), evBody("busy"), 429, ""},
		{"broken", signed(pluginsdk.ContentTypeCloudEvents, evBody("broken"), time.Now()), evBody("broken"), 500, ""},
		{"charset parameter", signed("application/cloudevents+json; charset=utf-8", evBody("x"), time.Now()), evBody("x"), 204, ""},
		{"unsigned", http.Header{"Content-Type": {pluginsdk.ContentTypeCloudEvents}}, evBody("x"), 401, `"reason":"headers"`},
		{"replayed", signed(pluginsdk.ContentTypeCloudEvents, evBody("x"), time.Now().Add(-time.Hour)), evBody("x"), 401, `"reason":"timestamp"`},
		{"body swapped", signed(pluginsdk.ContentTypeCloudEvents, evBody("x"), time.Now()), evBody("y"), 401, `"reason":"signature"`},
		{"binary mode", signed("application/json", evBody("x"), time.Now()), evBody("x"), 415, "structured mode"},
		{"not an event", signed(pluginsdk.ContentTypeCloudEvents, `{"id":"x"}`, time.Now()), `{"id":"x"}`, 400, "specversion"},
		{"not json", signed(pluginsdk.ContentTypeCloudEvents, `<xml/>`, time.Now()), `<xml/>`, 400, "not a CloudEvent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := post(tt.h, tt.body)
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Fatalf("%d %s", res.StatusCode, b)
			}
			if tt.status == 429 && res.Header.Get("Retry-After") != "2" {
				t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
			}
			if tt.status >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q", res.Header.Get("Content-Type"))
			}
		})
	}
	res, err = http.Get(srv.URL)
	if err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %v %v", err, res)
	}
	res.Body.Close()
}

func jsonNum(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
