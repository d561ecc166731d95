package main

import (
	"bufio"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/config"
)

// TestDeployFiles keeps deploy/ true to the binary: the systemd unit's
// command line, with the example environment file's settings, is accepted
// by `portico serve`; every PORTICO_ variable the example, the container
// file and the three-replica layout name (set or commented out) is one
// serve reads; and the proxy passes the original Host, without which
// cross-origin protection refuses every form.
func TestDeployFiles(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile("../../deploy/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	unit := read("portico.service")
	var exec []string
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			exec = strings.Fields(v)
		}
	}
	if len(exec) < 2 || exec[0] != "/usr/local/bin/portico" || exec[1] != "serve" {
		t.Fatalf("ExecStart is %q, want /usr/local/bin/portico serve …", exec)
	}

	// The variables serve reads, seen by asking for them.
	known := map[string]bool{}
	settings := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(read("portico.env.example")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("portico.env.example: %q is not KEY=VALUE", line)
		}
		settings[k] = v
	}
	e := env{getenv: func(k string) string { known[k] = true; return settings[k] }, stdout: io.Discard, stderr: io.Discard}
	var cfg config.Config
	fs := newFlags(e, "portico serve", "[flags]")
	cfg.RegisterServe(fs, e.getenv, true)
	args := append([]string(nil), exec[2:]...)
	if err := parse(fs, args); err != nil {
		t.Fatalf("portico serve %s: %v", strings.Join(args, " "), err)
	}
	if err := finishServe(&cfg); err != nil {
		t.Fatalf("portico serve %s with portico.env.example: %v", strings.Join(args, " "), err)
	}
	if cfg.DataDir != "/var/lib/portico" || cfg.LogFormat != "json" || !strings.Contains(cfg.MailFrom, "services.example.gov") {
		t.Errorf("the unit's settings did not take: data %q, log format %q, mail from %q", cfg.DataDir, cfg.LogFormat, cfg.MailFrom)
	}

	mentioned := regexp.MustCompile(`\bPORTICO_[A-Z_]+\b`)
	for _, name := range []string{"portico.env.example", "Containerfile", "three-replicas/nginx.conf", "portico.service"} {
		for _, v := range mentioned.FindAllString(read(name), -1) {
			if !known[v] {
				t.Errorf("deploy/%s names %s, which portico serve does not read", name, v)
			}
		}
	}

	nginx := read("three-replicas/nginx.conf")
	for _, want := range []string{"proxy_set_header Host $host;", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"} {
		if !strings.Contains(nginx, want) {
			t.Errorf("three-replicas/nginx.conf lacks %q", want)
		}
	}
	if !strings.Contains(read("Containerfile"), "CGO_ENABLED=0") {
		t.Error("the Containerfile must build the static binary its distroless base needs")
	}
}
