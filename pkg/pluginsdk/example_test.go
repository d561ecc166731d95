package pluginsdk_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/portico-gov/portico/pkg/pluginsdk"
)

// A plug-in's API behind the token check: the handler reads the consented
// claims from the context.
func ExampleVerifier_Middleware() {
	v := pluginsdk.NewVerifier("https://portico.example.gov", "counter-booking")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /offices/{office}/slots", func(w http.ResponseWriter, r *http.Request) {
		c, _ := pluginsdk.ClaimsFrom(r.Context())
		log.Printf("agency %s, service %s asks for the slots of %s", c.Agency, c.Service, r.PathValue("office"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"slots":[]}`)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8092", v.Middleware(mux)))
}

// Verifying a delivery by hand, here the Standard Webhooks
// specification's own example.
func ExampleVerifyWebhook() {
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	fmt.Println(pluginsdk.VerifyWebhook(secret, h, body, time.Unix(1614265330, 0)))
	fmt.Println(pluginsdk.VerifyWebhook(secret, h, []byte(`{"test": 1}`), time.Unix(1614265330, 0)))
	fmt.Println(pluginsdk.VerifyWebhook(secret, h, body, time.Unix(1614265330, 0).Add(time.Hour)))
	// Output:
	// <nil>
	// pluginsdk: webhook refused (signature): no signature in webhook-signature matches the body with this secret
	// pluginsdk: webhook refused (timestamp): webhook-timestamp 1614265330 is 1h0m0s away from the receiver's clock (at most 5m0s)
}

// A webhook that forgets a person's bookings when a case closes.
func ExampleWebhookHandler() {
	http.Handle("POST /portico/events", pluginsdk.WebhookHandler{
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", // from `portico plugin register`; keep it out of the code
		Handle: func(ctx context.Context, e pluginsdk.Event) error {
			if e.Type != pluginsdk.EventCaseClosed {
				return nil
			}
			var data pluginsdk.CaseData
			if err := e.Decode(&data); err != nil {
				return err // 500: Portico delivers it again later
			}
			log.Printf("case %s closed (event %s)", data.Case.Reference, e.ID)
			return nil // the same event may come again: handle it idempotently
		},
	})
}

func ExampleParseEvent() {
	e, err := pluginsdk.ParseEvent([]byte(`{"specversion":"1.0","id":"01J9","source":"/portico/casework",
		"type":"gov.portico.case.transitioned","subject":"case:c1","time":"2026-12-05T14:30:00Z",
		"porticoagency":"adams-clerk","datacontenttype":"application/json","data":{"case":{"state":"approved"}}}`))
	if err != nil {
		log.Fatal(err)
	}
	var data struct {
		Case struct{ State string } `json:"case"`
	}
	if err := e.Decode(&data); err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Type, e.Agency, e.Time.Format(time.DateOnly), data.Case.State)
	// Output: gov.portico.case.transitioned adams-clerk 2026-12-05 approved
}
