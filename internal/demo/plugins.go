package demo

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/portico-gov/portico/examples/plugins"
	counterbooking "github.com/portico-gov/portico/examples/plugins/counter-booking"
	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
)

// PluginEnablements are the demo's uses of the example plug-ins: the DMV
// uses its own vehicle records for the vehicle registration renewal, and
// the private provider's counter booking is reused by two agencies.
var PluginEnablements = []plugin.EnableRequest{
	{Plugin: "vehicle-registry", Agency: "dmv", Data: []string{"name", "address", "answers:vehicle-registration-renewal"},
		Service: "vehicle-registration-renewal", Operations: []string{"find-vehicle", "record-renewal"}},
	{Plugin: "counter-booking", Agency: "adams-clerk", Data: []string{"name", "email", "phone"}, Operations: []string{"list-slots", "book-slot", "cancel-booking"}},
	{Plugin: "counter-booking", Agency: "dmv", Data: []string{"name", "email", "phone"}, Operations: []string{"list-slots", "book-slot", "cancel-booking"}},
}

// StartVehicleRegistry serves the example vehicle-registry plug-in
// (examples/plugins/vehicle-registry) on a loopback port until ctx ends,
// trusting the tokens of issuer (Portico's public URL) and verifying the
// events Portico sends its webhook with webhookSecret. It returns the
// base URL to register.
func StartVehicleRegistry(ctx context.Context, issuer string, webhookSecret func() (string, error)) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: vehicle-registry: %w", err)
	}
	srv := &http.Server{Handler: vehicleregistry.NewServer(vehicleregistry.Config{Issuer: issuer, WebhookSecret: webhookSecret}).Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + l.Addr().String(), nil
}

// StartCounterBooking serves the example counter-booking plug-in (a
// private provider's, examples/plugins/counter-booking) on a loopback
// port until ctx ends, trusting the tokens of issuer, with its bookings in
// file ("" keeps them in memory). It returns the base URL to register.
func StartCounterBooking(ctx context.Context, issuer, file string) (string, error) {
	s, err := counterbooking.NewServer(counterbooking.Config{Issuer: issuer, File: file})
	if err != nil {
		return "", fmt.Errorf("demo: counter-booking: %w", err)
	}
	return serveLoopback(ctx, "counter-booking", s.Handler())
}

// serveLoopback serves h on a free loopback port until ctx ends.
func serveLoopback(ctx context.Context, name string, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: %s: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + l.Addr().String(), nil
}

// SeedPlugins registers the example plug-ins (examples/plugins) that are
// not registered yet and enables them as PluginEnablements says. It
// returns how many it registered. baseURLs replaces a plug-in's base_url
// (the demo's in-process servers listen on a port chosen at start); a
// registered plug-in whose base URL differs is registered again.
func SeedPlugins(ctx context.Context, reg *plugin.Service, baseURLs map[string]string) (int, error) {
	actor := platform.Actor{Kind: platform.ActorSystem, ID: "demo-seed"}
	ctx = platform.WithActor(ctx, actor)
	examples, err := plugins.All()
	if err != nil {
		return 0, fmt.Errorf("demo: plug-ins: %w", err)
	}
	n := 0
	for _, ex := range examples {
		chk, probs := reg.Validate(ctx, ex.Name, ex.Src, plugin.FSLoader(plugins.FS(), ex.Dir))
		if len(probs) > 0 {
			return n, fmt.Errorf("demo: %s is not a valid plug-in manifest: %v", ex.Name, probs)
		}
		src := ex.Src
		base, moved := baseURLs[chk.Manifest.ID]
		if moved {
			src = []byte(strings.Replace(string(src), "base_url: "+chk.Manifest.BaseURL, "base_url: "+base, 1))
			// The webhook moves with the server when it is on it.
			if path, ok := strings.CutPrefix(chk.Manifest.Webhook, chk.Manifest.BaseURL); ok {
				src = []byte(strings.Replace(string(src), "webhook: "+chk.Manifest.Webhook, "webhook: "+base+path, 1))
			}
		}
		if p, err := reg.Get(ctx, actor, chk.Manifest.ID); err == nil {
			if moved && p.BaseURL != base {
				if _, err := reg.Register(ctx, actor, ex.Name, src, plugin.FSLoader(plugins.FS(), ex.Dir)); err != nil {
					return n, fmt.Errorf("demo: register %s at %s: %w", ex.Name, base, err)
				}
			}
			continue
		} else if platform.ErrorCode(err) != platform.CodeNotFound {
			return n, err
		}
		if _, err := reg.Register(ctx, actor, ex.Name, src, plugin.FSLoader(plugins.FS(), ex.Dir)); err != nil {
			return n, fmt.Errorf("demo: register %s: %w", ex.Name, err)
		}
		n++
		for _, en := range PluginEnablements {
			if en.Plugin != chk.Manifest.ID {
				continue
			}
			if _, err := reg.Enable(ctx, actor, en); err != nil {
				return n, fmt.Errorf("demo: enable %s for %s: %w", en.Plugin, en.Agency, err)
			}
		}
	}
	return n, nil
}
