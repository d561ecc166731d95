package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/platform"
)

// multiFlag collects a repeated NAME=VALUE flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runPluginCall calls a plug-in operation through the gateway, as the
// operator: the same access check, token, resilience, response
// validation and audit as a service's call.
func runPluginCall(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico plugin call", "ID OPERATION --agency A --service S [--path NAME=VALUE]... [--query NAME=VALUE]... [--json-body FILE] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	agency := fs.String("agency", "", "the calling agency (it must have the plug-in enabled)")
	service := fs.String("service", "", "the calling service (an access right must let it call the operation)")
	bodyFile := fs.String("json-body", "", "a file with the JSON request body")
	asJSON := fs.Bool("json", false, "print the status and body as JSON")
	// The token's iss: plug-ins refuse a token whose issuer is not the
	// Portico whose keys they fetch, so the operator names it as the
	// running servers know it.
	fs.StringVar(&cfg.PublicURL, "public-url", e.getenv("PORTICO_PUBLIC_URL"), "Portico's public `URL`, the issuer plug-ins expect in the call token (env PORTICO_PUBLIC_URL)")
	var paths, queries multiFlag
	fs.Var(&paths, "path", "a path parameter NAME=VALUE (repeat for each)")
	fs.Var(&queries, "query", "a query parameter NAME=VALUE (repeat for each)")
	pos, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("name the plug-in id and the operation")
	}
	if *agency == "" || *service == "" {
		return usagef("--agency and --service are required")
	}
	// Without it the token's iss would be empty and every plug-in that
	// checks its issuer (as it must) would answer 401, which reads as the
	// plug-in's fault.
	if cfg.PublicURL == "" {
		return usagef("--public-url (or PORTICO_PUBLIC_URL) is required: the running server's public URL, which plug-ins check as the token's iss (the demo's is http://localhost:8080)")
	}
	req := gateway.Request{Agency: *agency, Service: *service, Plugin: pos[0], Operation: pos[1], Path: map[string]string{}, Query: url.Values{}}
	for _, p := range paths {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return usagef("--path %q: write NAME=VALUE", p)
		}
		req.Path[k] = v
	}
	for _, q := range queries {
		k, v, ok := strings.Cut(q, "=")
		if !ok || k == "" {
			return usagef("--query %q: write NAME=VALUE", q)
		}
		req.Query.Add(k, v)
	}
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			return usagef("--json-body: %v", err)
		}
		if !json.Valid(b) {
			return usagef("--json-body: %s is not JSON", *bodyFile)
		}
		req.Body = b
	}
	return withApp(ctx, e, cfg, func(ctx context.Context, a *app.App) error {
		res, err := a.Gateway.Call(ctx, platform.ActorFrom(ctx), req)
		if err != nil {
			return err
		}
		out := map[string]any{"status": res.Status, "attempts": res.Attempts, "duration_ms": res.Duration.Milliseconds()}
		if json.Valid(res.Body) {
			out["body"] = json.RawMessage(res.Body)
		} else {
			out["body"] = string(res.Body)
		}
		return output(e, *asJSON, out, func(w io.Writer) {
			fmt.Fprintf(w, "%s %s: status %d in %d ms (%d attempt(s)); the response matches the plug-in's OpenAPI document.\n",
				req.Plugin, req.Operation, res.Status, res.Duration.Milliseconds(), res.Attempts)
			fmt.Fprintln(w, strings.TrimSpace(string(res.Body)))
		})
	})
}
