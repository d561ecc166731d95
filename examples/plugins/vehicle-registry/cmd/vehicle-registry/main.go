// Command vehicle-registry runs the example plug-in's service alone:
//
//	go run ./examples/plugins/vehicle-registry/cmd/vehicle-registry -issuer http://localhost:8080 -addr 127.0.0.1:8091
//
// It verifies Portico's call tokens against the issuer's published keys.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "address to listen on (the manifest's base_url)")
	issuer := flag.String("issuer", "http://localhost:8080", "Portico's public URL (the issuer of its tokens)")
	secret := flag.String("webhook-secret", os.Getenv("VEHICLE_REGISTRY_WEBHOOK_SECRET"), "the whsec_ secret `portico plugin register` printed (env VEHICLE_REGISTRY_WEBHOOK_SECRET)")
	flag.Parse()
	s := vehicleregistry.NewServer(vehicleregistry.Config{Issuer: *issuer, WebhookSecret: func() (string, error) { return *secret, nil }})
	srv := &http.Server{Addr: *addr, Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	log.Printf("vehicle-registry: listening on http://%s, trusting tokens of %s", *addr, *issuer)
	log.Fatal(srv.ListenAndServe())
}
