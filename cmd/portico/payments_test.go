package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestPaymentsKeys: `portico payments key create|list|revoke` as an
// operator uses them: the key is printed once and never listed, mistakes
// exit non-zero with a precise message.
func TestPaymentsKeys(t *testing.T) {
	env := map[string]string{"PORTICO_DATA": t.TempDir()}
	for _, args := range [][]string{
		{"migrate"},
		{"jurisdiction", "create", "--id", "ex", "--kind", "state", "--name", "State of Ex"},
		{"agency", "create", "--id", "ex-dmv", "--jurisdiction", "ex", "--name", "Ex DMV"},
	} {
		if code, out, errOut := cli(t, env, args...); code != exitOK {
			t.Fatalf("%v: %d\n%s\n%s", args, code, out, errOut)
		}
	}
	code, out, errOut := cli(t, env, "payments", "key", "create", "--agency", "ex-dmv", "--name", "renewals", "--json")
	var created struct {
		ID, Agency, Name, Mode, Key, Hint string
		Live                              bool
	}
	if err := json.Unmarshal([]byte(out), &created); code != exitOK || err != nil || created.Mode != "test" || created.Live ||
		!regexp.MustCompile(`^api_test_[A-Za-z0-9_-]{43}$`).MatchString(created.Key) || created.Name != "renewals" {
		t.Fatalf("create: %d %v\n%s\n%s", code, err, out, errOut)
	}
	code, out, _ = cli(t, env, "payments", "key", "create", "--agency", "ex-dmv", "--live")
	if code != exitOK || !strings.Contains(out, `Created live payments API key "Key 2"`) || !regexp.MustCompile(`(?m)^api_live_\S{43}$`).MatchString(out) {
		t.Fatalf("create live: %d\n%s", code, out)
	}
	code, out, _ = cli(t, env, "payments", "key", "list", "--agency", "ex-dmv")
	if code != exitOK || !strings.Contains(out, "renewals") || !strings.Contains(out, "Key 2") || strings.Contains(out, created.Key) || !strings.Contains(out, created.Key[:13]) {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if code, out, _ = cli(t, env, "payments", "key", "list", "--agency", "ex-dmv", "--json"); code != exitOK || strings.Contains(out, created.Key) || !strings.Contains(out, `"live": true`) {
		t.Fatalf("list json: %d\n%s", code, out)
	}
	if code, out, _ = cli(t, env, "payments", "key", "revoke", "--agency", "ex-dmv", "--id", created.ID); code != exitOK || !strings.Contains(out, "Revoked payments API key "+created.ID) {
		t.Fatalf("revoke: %d\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"payments", "key", "revoke", "--agency", "ex-dmv", "--id", created.ID}, exitError, "no active payments API key"},
		{[]string{"payments", "key", "revoke", "--agency", "ex-dmv"}, exitUsage, "--agency and --id are required"},
		{[]string{"payments", "key", "create"}, exitUsage, "--agency is required"},
		{[]string{"payments", "key", "create", "--agency", "atlantis"}, exitError, `agency "atlantis" does not exist`},
		{[]string{"payments", "key", "create", "--agency", "ex-dmv", "--name", strings.Repeat("n", 101)}, exitError, "at most 100 characters"},
		{[]string{"payments", "key", "list"}, exitUsage, "--agency is required"},
		{[]string{"payments", "key", "list", "--agency", "ex-dmv", "--bogus"}, exitUsage, "bogus"},
	} {
		code, out, errOut := cli(t, env, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.msg) {
			t.Errorf("%v: %d\n%s\n%s", c.args, code, out, errOut)
		}
	}
	if code, out, _ := cli(t, env, "payments", "key", "list", "--agency", "ex-dmv"); code != exitOK || !regexp.MustCompile(`renewals\s+test\s+\S+\s+\S+\s+20\d\d-`).MatchString(out) {
		t.Fatalf("revoked key in list: %d\n%s", code, out)
	}
}
