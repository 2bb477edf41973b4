package http

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// URLs makes the absolute URLs farm answers with (Location, Link, _href):
// from the Host the client addressed when that host is one of farm's own,
// else from the configured public URL. A client's Host header is never
// copied into a URL otherwise: "Host: evil.example" must not make farm
// send its clients to evil.example. The scheme is http, or https when the
// request came over TLS as NGINX tells (uwsgi's HTTPS variable, or
// X-Forwarded-Proto on farm's HTTP unix socket, which only NGINX can
// reach); a client's own X-Forwarded-Proto counts for nothing.
type URLs struct {
	// Public is the base URL when the Host is not farm's own
	// (PUBLIC_URL): scheme, host and port, no path.
	Public string
	// Hosts are the host names that are farm's own (ALLOWED_HOSTS), with
	// any port; Public's host is one of them.
	Hosts []string
}

// base is the absolute URL of the server, for r.
func (u URLs) base(r *http.Request) string {
	if host := r.Host; host != "" && u.allowed(host) {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + host
	}
	if u.Public != "" {
		return u.Public
	}
	return "http://localhost"
}

// allowed reports whether a Host value is one of farm's names with a
// well-formed port.
func (u URLs) allowed(host string) bool {
	name, port := host, ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		name, port = h, p
	} else if strings.Contains(strings.Trim(host, "[]"), ":") && !strings.HasPrefix(host, "[") {
		return false // a bare IPv6 address: not how a Host header names one
	}
	if port != "" {
		if strings.Trim(port, "0123456789") != "" || len(port) > 5 || port[0] == '0' {
			return false // digits only: Atoi would take "+80"
		}
		if n, _ := strconv.Atoi(port); n > 65535 {
			return false
		}
	}
	name = strings.Trim(name, "[]")
	for _, h := range u.Hosts {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	if p, err := url.Parse(u.Public); err == nil && p.Hostname() != "" && strings.EqualFold(name, p.Hostname()) {
		return true
	}
	return false
}

// DefaultHosts are farm's own names when ALLOWED_HOSTS is not set: the
// loopback names, with any port.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}
