package http

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/uwsgi"
)

// A body that does not arrive within the read timeout is a JSON 408,
// over HTTP and over uwsgi, and nothing is written: NGINX streams a
// write's body to farm, so this is what bounds a client that trickles it.
func TestBodyReadTimeout(t *testing.T) {
	st := ram.New()
	srv := NewServer(Options{Store: st, MaxBodyBytes: 1 << 20}, Listen{HTTPAddr: "127.0.0.1:0", UwsgiAddr: "127.0.0.1:0", ReadTimeout: 500 * time.Millisecond})
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	addrs := srv.Addrs()
	body := `{"id": "slow", "species": "cow", "sex": "female"}`
	for _, c := range []struct {
		name, addr string
		head       []byte
	}{
		{"HTTP", addrs["HTTP (FARM_IF, FARM_PORT)"], []byte("POST /api/v1/animal HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n")},
		{"uwsgi", addrs["uwsgi over TCP (UWSGI_ADDR)"], uwsgiHead(t, len(body))},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			conn.Write(c.head)
			go func() {
				for i := range len(body) {
					time.Sleep(100 * time.Millisecond)
					if _, err := io.WriteString(conn, body[i:i+1]); err != nil {
						return
					}
				}
			}()
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			var e struct {
				Status int `json:"http_status_code"`
			}
			if res.StatusCode != 408 || json.Unmarshal(b, &e) != nil || e.Status != 408 {
				t.Fatalf("%d %s; want a JSON 408", res.StatusCode, b)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("answered after %v; the read timeout is 500 ms", took)
			}
		})
	}
	if _, err := st.FindAnimal(t.Context(), "slow"); err == nil {
		t.Error("the trickled record was written")
	}
}

// uwsgiHead is NGINX's packet for a POST of n bytes of JSON.
func uwsgiHead(t *testing.T, n int) []byte {
	t.Helper()
	b, err := uwsgi.AppendPacket(nil, 0, 0, []uwsgi.Var{
		{Key: "REQUEST_METHOD", Value: "POST"}, {Key: "REQUEST_URI", Value: "/api/v1/animal"},
		{Key: "PATH_INFO", Value: "/api/v1/animal"}, {Key: "QUERY_STRING", Value: ""},
		{Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"}, {Key: "HTTP_HOST", Value: "localhost"},
		{Key: "CONTENT_TYPE", Value: "application/json"}, {Key: "CONTENT_LENGTH", Value: strconv.Itoa(n)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
