// Command counter-booking runs the example private provider's plug-in
// alone:
//
//	go run ./examples/plugins/counter-booking/cmd/counter-booking -issuer http://localhost:8080 -addr 127.0.0.1:8092 -file bookings.json
//
// It verifies Portico's call tokens against the issuer's published keys
// and keeps the bookings in -file (in memory when empty).
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	counterbooking "github.com/portico-gov/portico/examples/plugins/counter-booking"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8092", "address to listen on (the manifest's base_url)")
	issuer := flag.String("issuer", "http://localhost:8080", "Portico's public URL (the issuer of its tokens)")
	file := flag.String("file", "", "JSON file keeping the bookings across restarts (in memory when empty)")
	flag.Parse()
	s, err := counterbooking.NewServer(counterbooking.Config{Issuer: *issuer, File: *file})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	log.Printf("counter-booking: listening on http://%s, trusting tokens of %s", *addr, *issuer)
	log.Fatal(srv.ListenAndServe())
}
