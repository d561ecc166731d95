package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestJSONLogsIncludeLibraries: under --log-format json every line the
// process writes is a JSON object, including the OpenID Provider library's
// own request errors (it logs through slog's default logger, which printed
// plain text before serve made the process logger the default).
func TestJSONLogsIncludeLibraries(t *testing.T) {
	base, _, logs := startServeLogged(t, "--log-format", "json")
	res, err := http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode < 400 {
		t.Fatalf("a token for an unknown client: %d", res.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `"request error"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the OpenID Provider's request error was not logged as JSON:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("not a JSON log line: %s", line)
		}
	}
}
