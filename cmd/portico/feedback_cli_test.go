package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/feedback"
)

// TestFeedbackList: `portico feedback list` shows what people sent, newest
// first, as a table or JSON, and the read is audited as the operator's.
func TestFeedbackList(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PORTICO_DATA": data}
	if code, out, errOut := cli(t, env, "feedback", "list"); code != exitError || !strings.Contains(errOut, "needs migrating") {
		t.Fatalf("before migrating: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := cli(t, env, "migrate"); code != exitOK {
		t.Fatalf("migrate: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := cli(t, env, "feedback", "list"); code != exitOK || !strings.Contains(out, "No feedback.") {
		t.Fatalf("empty: %d\n%s", code, out)
	}
	cfg := config.Config{DataDir: data, LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.NewLogger(cfg, io.Discard), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"The first", "The fee was\nnot shown anywhere on the page"} {
		if _, err := a.Feedback.Give(context.Background(), feedback.Input{Comment: c, Email: "ana@example.com", Page: "/services", Lang: "en"}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	a.Stop(context.Background())

	code, out, errOut := cli(t, env, "feedback", "list")
	if code != exitOK || !strings.Contains(out, "The fee was not shown anywhere") || !strings.Contains(out, "ana@example.com") || strings.Index(out, "The fee") > strings.Index(out, "The first") {
		t.Fatalf("table: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, env, "feedback", "list", "--json")
	var p feedback.Page
	if code != exitOK || json.Unmarshal([]byte(out), &p) != nil || len(p.Items) != 2 || p.Items[0].Comment != "The fee was\nnot shown anywhere on the page" {
		t.Fatalf("json: %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := cli(t, env, "feedback", "list", "--before", "x", "--after", "y"); code != exitUsage {
		t.Fatalf("both cursors: %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, env, "feedback", "list", "--before", "nonsense"); code != exitError || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("bad cursor: %d %s", code, errOut)
	}
	code, out, _ = cli(t, env, "audit", "list", "--subject", "feedback", "--json")
	if code != exitOK || strings.Count(out, `"action": "feedback.list"`) != 3 || !strings.Contains(out, `"actor": "operator:cli"`) {
		t.Fatalf("audit: %d\n%s", code, out)
	}
}
