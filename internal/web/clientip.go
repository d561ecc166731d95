package web

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Client addresses behind a reverse proxy.
//
// Per-IP throttling (sign-in failures, emailed codes) needs the address of
// the person, not of the load balancer in front of Portico. A proxy says
// who connected to it in X-Forwarded-For, but anyone can send that header,
// so it is believed only when the connection itself comes from a proxy the
// operator named (Config.TrustedProxies, from --trusted-proxies). Portico then walks the header from
// the right, skipping hops that are themselves trusted proxies, and takes
// the first address that is not: everything to the left of it was written
// by the client and proves nothing.

func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// fromTrustedProxy reports whether the connection's peer is one of the
// trusted proxies, whose own headers (X-Forwarded-For, X-Request-Id) are
// believed.
func fromTrustedProxy(remoteAddr string, proxies []netip.Prefix) bool {
	if len(proxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, err := netip.ParseAddr(host)
	return err == nil && trusted(peer.Unmap(), proxies)
}

// clientAddr returns the address of the client: the connection's peer,
// unless that peer is a trusted proxy, in which case the rightmost
// X-Forwarded-For hop that is not a trusted proxy. xff holds every
// X-Forwarded-For header line in order.
func clientAddr(remoteAddr string, xff []string, proxies []netip.Prefix) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(proxies) == 0 || !trusted(peer.Unmap(), proxies) {
		return host
	}
	var hops []string
	for _, line := range xff {
		hops = append(hops, strings.Split(line, ",")...)
	}
	client := peer.Unmap()
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A trusted proxy would not write this: stop at the last
			// address a trusted hop vouched for.
			break
		}
		client = a.Unmap()
		if !trusted(client, proxies) {
			break
		}
	}
	return client.String()
}

type clientIPKey struct{}

// ClientIP returns the client's IP address as resolved by the shell
// (see the note on client addresses), or the connection's peer address
// for a request that did not pass through the shell.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return clientAddr(r.RemoteAddr, nil, nil)
}

func withClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}
