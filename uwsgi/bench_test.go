package uwsgi_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/farmhq/farm/uwsgi"
)

// nginxPacket is what NGINX sends for a GET with Debian's uwsgi_params
// and a browser's headers.
func nginxPacket(b *testing.B) []byte {
	vars := kv("QUERY_STRING", "", "REQUEST_METHOD", "GET", "CONTENT_TYPE", "", "CONTENT_LENGTH", "",
		"REQUEST_URI", "/api/v1/animal/6f1c2b9e-6c1d-4b5e-9f0a-1d2e3f4a5b6c", "PATH_INFO", "/api/v1/animal/6f1c2b9e-6c1d-4b5e-9f0a-1d2e3f4a5b6c",
		"DOCUMENT_ROOT", "/opt/farm/static", "SERVER_PROTOCOL", "HTTP/1.1", "REQUEST_SCHEME", "http", "HTTPS", "",
		"REMOTE_ADDR", "192.0.2.10", "REMOTE_PORT", "51234", "SERVER_PORT", "44444", "SERVER_NAME", "_",
		"HTTP_HOST", "farm.example", "HTTP_USER_AGENT", "Mozilla/5.0 (X11; Linux x86_64)", "HTTP_ACCEPT", "application/json",
		"HTTP_ACCEPT_ENCODING", "gzip, deflate, br", "HTTP_ACCEPT_LANGUAGE", "en-GB,en;q=0.9", "HTTP_CONNECTION", "keep-alive",
		"HTTP_X_FORWARDED_PROTO", "http")
	return packet(b, vars)
}

// go test -run '^$' -bench . -benchmem ./uwsgi/
func BenchmarkReadPacket(b *testing.B) {
	p := nginxPacket(b)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := uwsgi.ReadPacket(bytes.NewReader(p)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewRequest(b *testing.B) {
	p, err := uwsgi.ReadPacket(bytes.NewReader(nginxPacket(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := uwsgi.NewRequest(context.Background(), p, http.NoBody); err != nil {
			b.Fatal(err)
		}
	}
}
