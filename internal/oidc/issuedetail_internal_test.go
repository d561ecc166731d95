package oidc

import (
	"encoding/json"
	"testing"
)

// TestIssueDetailJSON: a client token's audit detail is the same JSON the
// map it replaced gave, so entries before and after read alike.
func TestIssueDetailJSON(t *testing.T) {
	for _, scopes := range [][]string{nil, {}, {"records.read"}, {"a", "b"}} {
		got, err := json.Marshal(issueDetail{Client: "c1", Grant: GrantClientCredentials, JTI: "ct_x", Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(map[string]any{"client": "c1", "grant": GrantClientCredentials, "jti": "ct_x", "scopes": scopes})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("scopes %#v: %s, want %s", scopes, got, want)
		}
	}
}
