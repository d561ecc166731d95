package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/webhook"
)

var secretPattern = regexp.MustCompile(`Signing secret \(shown only now\): (paywh_[0-9a-f]{64})`)

// TestPaymentWebhookCLI: `portico payments webhook create` prints the
// signing secret once; the running program (its events consumer and
// River worker) then sends a payment's success to the URL, signed with
// that secret; list never shows the secret; delete stops it; mistakes are
// precise.
func TestPaymentWebhookCLI(t *testing.T) {
	env, cfg := seedPeopleData(t)
	var mu sync.Mutex
	var got []webhook.PayMessage
	var secret string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		if !hmac.Equal([]byte(r.Header.Get("Pay-Signature")), []byte(hex.EncodeToString(m.Sum(nil)))) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var msg webhook.PayMessage
		if err := json.Unmarshal(body, &msg); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got = append(got, msg)
	}))
	defer recv.Close()

	code, out, errOut := cli(t, env, "payments", "webhook", "create", "--agency", "adams-treasurer", "--url", recv.URL+"/pay", "--events", "card_payment_succeeded,card_payment_failed")
	sm := secretPattern.FindStringSubmatch(out)
	if code != exitOK || sm == nil || !strings.Contains(out, "Events: card_payment_succeeded, card_payment_failed") {
		t.Fatalf("create: %d\n%s\n%s", code, out, errOut)
	}
	mu.Lock()
	secret = sm[1]
	mu.Unlock()
	code, out, errOut = cli(t, env, "payments", "webhook", "list", "--agency", "adams-treasurer", "--json")
	var list []webhook.PayWebhook
	if err := json.Unmarshal([]byte(out), &list); code != exitOK || err != nil || len(list) != 1 || strings.Contains(out, "paywh_") {
		t.Fatalf("list: %d %v\n%s\n%s", code, err, out, errOut)
	}

	// The program, working its jobs and consumers, announces a payment.
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Work: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var p payment.Payment
	err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = a.Payments.Create(ctx, tx, platform.Actor{Kind: platform.ActorOperator}, payment.New{Agency: "adams-treasurer", Amount: 61250,
			Reference: "01-234-567", Description: "Property tax", ReturnURL: "https://x.example/r", Provider: "sandbox"}); err != nil {
			return err
		}
		for _, s := range [][2]payment.Status{{payment.Created, payment.Started}, {payment.Started, payment.Submitted}, {payment.Submitted, payment.Success}} {
			if _, err := a.Payments.Move(ctx, tx, platform.Actor{Kind: platform.ActorOperator}, p.ID, s[0], s[1], ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no payment webhook within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.Stop(context.Background())
	mu.Lock()
	if len(got) != 1 || got[0].EventType != webhook.PaySucceeded || got[0].ResourceID != p.ID || got[0].Resource.Amount != 61250 {
		t.Errorf("received %+v", got)
	}
	mu.Unlock()
	if code, out, errOut = cli(t, env, "payments", "webhook", "messages", "--agency", "adams-treasurer", list[0].ID); code != exitOK ||
		!strings.Contains(out, "card_payment_succeeded") || !strings.Contains(out, "delivered") {
		t.Errorf("messages: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut = cli(t, env, "payments", "webhook", "delete", "--agency", "adams-treasurer", list[0].ID); code != exitOK {
		t.Fatalf("delete: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ = cli(t, env, "payments", "webhook", "list", "--agency", "adams-treasurer"); code != exitOK || !strings.Contains(out, "no payment webhooks") {
		t.Errorf("after delete: %d %s", code, out)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no url", []string{"create", "--agency", "adams-treasurer"}, exitUsage, "give --agency and --url"},
		{"unknown agency", []string{"create", "--agency", "atlantis", "--url", "https://x.example/pay"}, exitError, `agency "atlantis" does not exist`},
		{"plain http", []string{"create", "--agency", "adams-treasurer", "--url", "http://x.example/pay"}, exitError, "https://"},
		{"unknown event", []string{"create", "--agency", "adams-treasurer", "--url", "https://x.example/pay", "--events", "card_payment_created"}, exitError, `"card_payment_created" is not an event type`},
		{"delete unknown", []string{"delete", "--agency", "adams-treasurer", "nope"}, exitError, "has no payment webhook nope"},
		{"delete without id", []string{"delete", "--agency", "adams-treasurer"}, exitUsage, "one webhook id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, env, append([]string{"payments", "webhook"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
		})
	}
}
