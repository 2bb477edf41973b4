package http

import (
	"strings"
	"testing"

	"github.com/farmhq/farm/store/ram"
)

// The absolute URLs of answers come from farm's own names: a hostile Host
// or X-Forwarded-Proto never becomes a URL farm sends its clients to.
func TestURLsAreFarms(t *testing.T) {
	a := newAPI(t, ram.New(), func(o *Options) {
		o.URLs = URLs{Public: "https://farm.example.com", Hosts: []string{"localhost", "127.0.0.1", "farm.internal"}}
	})
	a.create(`{"id": "a", "species": "cow", "sex": "female"}`)
	a.create(`{"id": "b", "species": "cow", "sex": "female"}`)
	for _, c := range []struct {
		host, proto string
		want        string
	}{
		{"evil.example", "", "https://farm.example.com/"},
		{"evil.example:6666", "https", "https://farm.example.com/"},
		{"farm.example.com:443", "", "http://farm.example.com:443/"},
		{"farm.internal:8080", "https", "http://farm.internal:8080/"}, // a client's X-Forwarded-Proto is no proof of TLS
		{"LOCALHOST:44444", "", "http://LOCALHOST:44444/"},
		{"127.0.0.1:0", "", "https://farm.example.com/"},
		{"127.0.0.1:99999", "", "https://farm.example.com/"},
		{"127.0.0.1:+80", "", "https://farm.example.com/"},
	} {
		h := []string{"Host: " + c.host, "Content-Type: application/json"}
		if c.proto != "" {
			h = append(h, "X-Forwarded-Proto: "+c.proto)
		}
		r := a.do("POST", "/api/v1/animal", `{"id": "x`+strings.NewReplacer(":", "-", ".", "-", "+", "-").Replace(c.host)+`", "species": "cow", "sex": "male"}`, h...)
		if loc := r.header.Get("Location"); !strings.HasPrefix(loc, c.want+"api/v1/animal/") {
			t.Errorf("Host %q, X-Forwarded-Proto %q: Location %q, want under %s", c.host, c.proto, loc, c.want)
		}
		l := a.do("GET", "/api/v1/animal?per_page=1", nil, h...)
		if link := l.header.Get("Link"); !strings.Contains(link, "<"+c.want+"api/v1/animal?") || strings.Contains(link, "evil") {
			t.Errorf("Host %q: Link %q", c.host, link)
		}
		if !strings.Contains(string(l.body), `"_href":"`+c.want) {
			t.Errorf("Host %q: _href in %s", c.host, l.body)
		}
	}
}
