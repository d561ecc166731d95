package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestOpen311Keys: `portico open311 key create|list|revoke` as an operator
// uses them: the key is printed once and never listed, mistakes exit
// non-zero with a precise message.
func TestOpen311Keys(t *testing.T) {
	env := map[string]string{"PORTICO_DATA": t.TempDir()}
	for _, args := range [][]string{
		{"migrate"},
		{"jurisdiction", "create", "--id", "ex", "--kind", "state", "--name", "State of Ex"},
		{"agency", "create", "--id", "ex-works", "--jurisdiction", "ex", "--name", "Ex Public Works"},
	} {
		if code, out, errOut := cli(t, env, args...); code != exitOK {
			t.Fatalf("%v: %d\n%s\n%s", args, code, out, errOut)
		}
	}
	code, out, errOut := cli(t, env, "open311", "key", "create", "--agency", "ex-works", "--name", "SeeClickFix", "--json")
	var created struct{ ID, Agency, Name, Key, Hint string }
	if err := json.Unmarshal([]byte(out), &created); code != exitOK || err != nil || created.Name != "SeeClickFix" ||
		!regexp.MustCompile(`^o311_[A-Za-z0-9_-]{43}$`).MatchString(created.Key) {
		t.Fatalf("create: %d %v\n%s\n%s", code, err, out, errOut)
	}
	if code, out, _ = cli(t, env, "open311", "key", "create", "--agency", "ex-works"); code != exitOK || !strings.Contains(out, `Created Open311 API key "Key 2"`) {
		t.Fatalf("create default name: %d\n%s", code, out)
	}
	if code, out, _ = cli(t, env, "open311", "key", "list", "--agency", "ex-works"); code != exitOK || !strings.Contains(out, "SeeClickFix") || strings.Contains(out, created.Key) || !strings.Contains(out, created.Key[:9]) {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if code, out, _ = cli(t, env, "open311", "key", "revoke", "--agency", "ex-works", "--id", created.ID); code != exitOK || !strings.Contains(out, "Revoked Open311 API key "+created.ID) {
		t.Fatalf("revoke: %d\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"open311", "key", "revoke", "--agency", "ex-works", "--id", created.ID}, exitError, "no active Open311 API key"},
		{[]string{"open311", "key", "revoke", "--agency", "ex-works"}, exitUsage, "--agency and --id are required"},
		{[]string{"open311", "key", "create"}, exitUsage, "--agency is required"},
		{[]string{"open311", "key", "create", "--agency", "atlantis"}, exitError, `agency "atlantis" does not exist`},
		{[]string{"open311", "key", "create", "--agency", "ex-works", "--name", strings.Repeat("n", 101)}, exitError, "at most 100 characters"},
		{[]string{"open311", "key", "list"}, exitUsage, "--agency is required"},
	} {
		code, out, errOut := cli(t, env, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.msg) {
			t.Errorf("%v: %d\n%s\n%s", c.args, code, out, errOut)
		}
	}
}
