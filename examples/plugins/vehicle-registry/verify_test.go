package vehicleregistry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzVerify feeds outside tokens to the verifier: it must refuse them
// without panicking (the issuer serves an empty key set).
func FuzzVerify(f *testing.F) {
	iss := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/openid-configuration" {
			_, _ = w.Write([]byte(`{"issuer":"http://` + r.Host + `","jwks_uri":"http://` + r.Host + `/jwks"}`))
			return
		}
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	defer iss.Close()
	for _, s := range []string{"", "a.b.c", "eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.e30.AAAA", "eyJhbGciOiJub25lIn0.e30.", "...."} {
		f.Add(s)
	}
	v := NewVerifier(iss.URL, PluginID, nil, nil)
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Fatalf("accepted %q", tok)
		}
	})
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"EX 4KQ-218": "EX4KQ218", "ex7mb904": "EX7MB904", " -": ""} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
