// Package client talks to a farm server over HTTP: raw requests for the
// CLI's get/post/put/patch/delete, and the animal calls that the animal
// and stress commands build on.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/farmhq/farm/redact"
)

// Client is a farm API client. Trace, when set, receives the request and
// response lines and headers of every exchange (the CLI's -v).
type Client struct {
	Base  string // e.g. http://127.0.0.1:44444
	Via   string // how Base is reached when not by its host, e.g. unix:/run/farm/farm_http_1.socket
	HTTP  *http.Client
	Trace io.Writer
	// Token, when set, goes with every request to Base as
	// "Authorization: Bearer <token>" (farm's WRITE_TOKEN_FILE); never to
	// another server an absolute URL names, and never into Trace.
	Token string
}

// where names the server for messages.
func (c *Client) where() string {
	if c.Via != "" {
		return c.Via
	}
	return redact.URLs(c.Base)
}

// New returns a client for the server at base.
func New(base string) *Client {
	return &Client{
		Base: strings.TrimRight(base, "/"),
		HTTP: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				Proxy:               nil, // farm is local; a proxy from the environment would only get in the way
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     90 * time.Second,
			},
		},
	}
}

// NewUnix returns a client for a server on the HTTP unix socket at path
// (farm's HTTP_SOCKET).
func NewUnix(path string) *Client {
	c := New("http://localhost")
	c.Via = "unix:" + path
	c.HTTP.Transport.(*http.Transport).DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	return c
}

// Response is a whole HTTP response.
type Response struct {
	Proto  string
	Status int
	Header http.Header
	Body   []byte
}

// StatusLine is the response's first line, as curl -i shows it.
func (r *Response) StatusLine() string {
	return fmt.Sprintf("%s %d %s", r.Proto, r.Status, http.StatusText(r.Status))
}

// ConnError is a failure to reach the server at all.
type ConnError struct {
	URL string
	Err error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("cannot reach farm at %s: %v (is the server running? see FARM_IF, FARM_PORT, FARM_URL, HTTP_SOCKET)", e.URL, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// StatusError is an HTTP error status from the server, with the text of
// farm's JSON error body when there is one.
type StatusError struct {
	Method, URL string
	Status      int
	Text        string
	Response    *Response
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Text != "" {
		msg += ": " + e.Text
	}
	return msg
}

// statusError is the error of a response with an error status, with the
// text of farm's JSON error body when it has one.
func statusError(method, u string, r *Response) *StatusError {
	se := &StatusError{Method: method, URL: redact.URLs(u), Status: r.Status, Response: r}
	var eb struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(r.Body, &eb) == nil {
		se.Text = eb.Text
	}
	return se
}

// URL resolves a URI against the base: a path ("/api/v1/_about") or an
// absolute URL.
func (c *Client) URL(uri string) (string, error) {
	if strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://") {
		if _, err := url.Parse(uri); err != nil {
			return "", fmt.Errorf("bad URL %q: %v", uri, err)
		}
		return uri, nil
	}
	if !strings.HasPrefix(uri, "/") {
		uri = "/" + uri
	}
	u := c.Base + uri
	if _, err := url.Parse(u); err != nil {
		return "", fmt.Errorf("bad URI %q: %v", uri, err)
	}
	return u, nil
}

// Do sends one request. An HTTP status of 400 or more comes back as a
// *StatusError holding the response; a failure to connect as *ConnError.
func (c *Client) Do(ctx context.Context, method, uri string, body []byte, header http.Header) (*Response, error) {
	u, err := c.URL(uri)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "farm-cli")
	if c.Token != "" && sameServer(u, c.Base) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.Trace != nil {
		fmt.Fprintf(c.Trace, "> %s %s %s\n", req.Method, req.URL.RequestURI(), "HTTP/1.1")
		fmt.Fprintf(c.Trace, "> Host: %s\n", req.URL.Host)
		writeHeader(c.Trace, "> ", req.Header)
		fmt.Fprintln(c.Trace, ">")
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &ConnError{URL: c.where(), Err: unwrapURLError(err)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, &ConnError{URL: c.where(), Err: fmt.Errorf("reading the response: %w", err)}
	}
	r := &Response{Proto: res.Proto, Status: res.StatusCode, Header: res.Header, Body: b}
	if c.Trace != nil {
		fmt.Fprintf(c.Trace, "< %s\n", r.StatusLine())
		writeHeader(c.Trace, "< ", res.Header)
		fmt.Fprintln(c.Trace, "<")
	}
	if res.StatusCode >= 400 {
		se := statusError(method, u, r)
		if res.StatusCode == http.StatusUnauthorized {
			if c.Token == "" {
				se.Text += " (the CLI sends the first token of the configuration's WRITE_TOKEN_FILE, or FARM_TOKEN)"
			} else {
				se.Text += " (the CLI sent the token of FARM_TOKEN or WRITE_TOKEN_FILE)"
			}
		}
		return r, se
	}
	return r, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sameServer reports whether URL u is on the server of base: same scheme,
// host and port.
func sameServer(u, base string) bool {
	a, err1 := url.Parse(u)
	b, err2 := url.Parse(base)
	return err1 == nil && err2 == nil && strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// writeHeader writes headers one per line, sorted, after prefix; a
// credential shows as its scheme and ***.
func writeHeader(w io.Writer, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			switch k {
			case "Authorization", "Proxy-Authorization":
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " " + redact.Mask
			case "Cookie", "Set-Cookie":
				v = redact.Mask
			}
			fmt.Fprintf(w, "%s%s: %s\n", prefix, k, v)
		}
	}
}

// WriteHead writes a response's status line and headers, curl -i style.
func WriteHead(w io.Writer, r *Response) {
	fmt.Fprintln(w, r.StatusLine())
	writeHeader(w, "", r.Header)
	fmt.Fprintln(w)
}

// Ref points at one record, as listings and creations return it.
type Ref struct {
	ID   string `json:"id"`
	Href string `json:"_href"`
}

// Page is one page of a listing.
type Page struct {
	Refs  []Ref
	Total int
	Next  string // the next page's URL from the Link header, "" on the last
}

// List fetches the first page of the animal listing.
func (c *Client) List(ctx context.Context, perPage int) (*Page, error) {
	return c.ListAt(ctx, "/api/v1/animal?page=1&per_page="+strconv.Itoa(perPage))
}

// ListAt fetches the listing page at uri, such as a Page's Next.
func (c *Client) ListAt(ctx context.Context, uri string) (*Page, error) {
	r, err := c.Do(ctx, http.MethodGet, uri, nil, nil)
	if err != nil {
		return nil, err
	}
	p := &Page{}
	if err := json.Unmarshal(r.Body, &p.Refs); err != nil {
		return nil, fmt.Errorf("listing: unexpected body: %v", err)
	}
	if p.Total, err = strconv.Atoi(r.Header.Get("X-Total-Count")); err != nil {
		return nil, fmt.Errorf("listing: bad X-Total-Count %q", r.Header.Get("X-Total-Count"))
	}
	p.Next = linkRel(r.Header.Get("Link"), "next")
	return p, nil
}

// linkRel finds the URL of a relation in a Link header.
func linkRel(header, rel string) string {
	for _, part := range strings.Split(header, ",") {
		u, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if ok && strings.TrimSpace(params) == `rel="`+rel+`"` {
			return strings.Trim(u, "<>")
		}
	}
	return ""
}

// AnimalPath is the URI of one record.
func AnimalPath(id string) string { return "/api/v1/animal/" + url.PathEscape(id) }
