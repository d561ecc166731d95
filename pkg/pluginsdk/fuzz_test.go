package pluginsdk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/pkg/pluginsdk"
	"github.com/portico-gov/portico/pkg/pluginsdk/pluginsdktest"
)

// FuzzVerifyWebhook feeds outside headers and bodies to VerifyWebhook: it
// never panics, and it accepts only what the secret signed.
func FuzzVerifyWebhook(f *testing.F) {
	f.Add(specID, "1614265330", specSig, []byte(specBody))
	f.Add(specID, "1614265330", "v1,Zm9v "+specSig, []byte(specBody))
	f.Add("", "", "", []byte(nil))
	f.Add("id", "-1", "v1,", []byte("{}"))
	f.Add("id", "99999999999999999999", "v1,====", []byte("x"))
	f.Add("id", "1614265330", "v1", []byte(specBody))
	at := time.Unix(specTS, 0)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		err := pluginsdk.VerifyWebhook(specSecret, headers(id, ts, sig), body, at)
		if err != nil {
			return
		}
		// Accepted: the signature must be the one the secret makes.
		want, serr := pluginsdk.SignWebhook(specSecret, id, at, body)
		if serr != nil || (sig != want && !containsField(sig, want)) {
			t.Fatalf("accepted id %q ts %q sig %q body %q", id, ts, sig, body)
		}
	})
}

func containsField(list, s string) bool {
	for i := 0; i+len(s) <= len(list); i++ {
		if list[i:i+len(s)] == s && (i == 0 || list[i-1] == ' ') && (i+len(s) == len(list) || list[i+len(s)] == ' ') {
			return true
		}
	}
	return false
}

// FuzzParseEvent: outside bodies never panic the event parser.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"e","source":"/s","type":"t","time":"2026-01-02T03:04:05Z","data":{"a":1}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"e","source":"/s","type":"t"} {}`))
	f.Add([]byte(`{"time":"yesterday"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := pluginsdk.ParseEvent(b)
		if err == nil && (e.ID == "" || e.Type == "" || e.Source == "" || e.SpecVersion != "1.0") {
			t.Fatalf("accepted %q as %+v", b, e)
		}
	})
}

// FuzzVerify feeds outside tokens to the verifier: it never panics and
// refuses them (the fake issuer's key is secret to the fuzzer).
func FuzzVerify(f *testing.F) {
	p := pluginsdktest.New(f, plugin)
	good := p.Token(base())
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.e30.AAAA")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("....")
	v := pluginsdk.NewVerifier(p.URL, plugin)
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := v.Verify(context.Background(), tok); err == nil && tok != good {
			t.Fatalf("accepted %q", tok)
		}
	})
}

// FuzzMiddlewareHeader: any Authorization header gets 200 only with the
// real token, otherwise a problem.
func FuzzMiddlewareHeader(f *testing.F) {
	p := pluginsdktest.New(f, plugin)
	good := "Bearer " + p.Token(base())
	h := pluginsdk.NewVerifier(p.URL, plugin).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, s := range []string{good, "", "Bearer", "Bearer  ", "Basic x", "bearer a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code == 200 && !strings.Contains(auth, good[len("Bearer "):]):
			t.Fatalf("200 for %q", auth)
		case rec.Code != 200 && rec.Code != 401:
			t.Fatalf("%d for %q", rec.Code, auth)
		}
	})
}
