package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portico-gov/portico/internal/notify"
)

// notifyToken makes a token for key as GOV.UK Notify's client libraries
// do: HS256 over {"iss": service id, "iat": now} with the key's secret.
func notifyToken(t *testing.T, key string) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": key[len(key)-73 : len(key)-37], "iat": time.Now().Unix()}).
		SignedString([]byte(key[len(key)-36:]))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestNotifyAPIThroughTheDemo sends through the whole program as an agency
// system would: the Notify-compatible API with a key the CLI would print,
// delivered by the jobs into the development mailbox, email and SMS.
func TestNotifyAPIThroughTheDemo(t *testing.T) {
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	_, key, err := a.Notify.CreateAPIKey(ctx, "dmv", "case system", notify.KeyLive)
	if err != nil {
		t.Fatal(err)
	}
	email, err := a.Notify.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Renewal",
		Subject: "Renew plate ((plate))", Body: "Renew at https://example.gov/renew/((plate))"})
	if err != nil {
		t.Fatal(err)
	}
	sms, _ := a.Notify.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "Due", Body: "DMV: plate ((plate)) is due"})
	post := func(path string, body map[string]any) map[string]any {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+notifyToken(t, key))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 201 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	e := post("/v2/notifications/email", map[string]any{"email_address": "ana.citizen@example.com", "template_id": email.ID, "personalisation": map[string]any{"plate": "ABC123"}})
	s := post("/v2/notifications/sms", map[string]any{"phone_number": "+15555550123", "template_id": sms.ID, "personalisation": map[string]any{"plate": "ABC123"}})
	if !strings.HasPrefix(e["uri"].(string), base+"/v2/notifications/") {
		t.Fatalf("uri %v", e["uri"])
	}
	for _, id := range []string{e["id"].(string), s["id"].(string)} {
		if n := waitNotification(t, a, id); n.Status != notify.StatusDelivered {
			t.Fatalf("%s: %s %s", id, n.Status, n.LastError)
		}
	}
	_, _, page := get(t, base+"/dev/mailbox")
	if !strings.Contains(page, "Renew plate ABC123") || !strings.Contains(page, "DMV: plate ABC123 is due") || !strings.Contains(page, "15555550123") {
		t.Fatalf("mailbox page lacks the email or the text message:\n%s", page)
	}
}
