package http_test

// This test keeps docs/openapi.yaml and the server honest with each other.
// It runs the real handler on a random port, sends it a broad set of real
// requests (successes and every error status the document lists), and
// checks each request the test means to be valid, and every response,
// against the document with kin-openapi. At the end it checks that every
// operation of the document, and every response status of each operation,
// was seen at least once, so that neither side can drift silently.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/store/ram"
)

// oasDocPath is the document under test, from this package's folder.
var oasDocPath = filepath.Join("..", "docs", "openapi.yaml")

// oasNow is the servers' clock: a dob may not be after 2026-06-15.
var oasNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// oasMaxBody is the body limit of the servers under test, small so that a
// 413 is cheap to provoke.
const oasMaxBody = 512

// oasReadTimeout is the servers' read timeout, short so that a 408 is
// cheap to provoke (the servers of farm: READ_TIMEOUT).
const oasReadTimeout = 2 * time.Second

// reqCheck says what the document should think of a request.
type reqCheck int

const (
	reqValid     reqCheck = iota // the document accepts it (the default)
	reqInvalid                   // the document rejects it too
	reqUnchecked                 // the document cannot tell (duplicate ids, future dates, no Content-Type, ...)
)

// oasSpec is the loaded document, its router, and what the test has seen
// of it.
type oasSpec struct {
	doc    *openapi3.T
	router routers.Router
	// seen maps "METHOD /path/template" to the response statuses seen.
	seen map[string]map[int]bool
	// seenComponents are the component responses (not tied to an
	// operation) that a response was checked against.
	seenComponents map[string]bool
}

func loadOASSpec(t *testing.T) *oasSpec {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(oasDocPath)
	if err != nil {
		t.Fatalf("load %s: %v", oasDocPath, err)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", oasDocPath, err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	// The servers under test listen on random ports: match any host.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return &oasSpec{doc: doc, router: router, seen: map[string]map[int]bool{}, seenComponents: map[string]bool{}}
}

// oasServer is one running handler and a client for it.
type oasServer struct {
	spec   *oasSpec
	srv    *httptest.Server
	client *http.Client
}

func (s *oasSpec) start(t *testing.T, o farmhttp.Options) *oasServer {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return oasNow }
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = oasMaxBody
	}
	srv := httptest.NewUnstartedServer(farmhttp.NewHandler(o))
	srv.Config.ReadTimeout, srv.Config.IdleTimeout = oasReadTimeout, time.Minute
	srv.Start()
	t.Cleanup(srv.Close)
	client := srv.Client()
	t.Cleanup(client.CloseIdleConnections)
	return &oasServer{spec: s, srv: srv, client: client}
}

// oasReq is one request of the test.
type oasReq struct {
	method, path string
	body         string
	header       []string // name, value, name, value...
	chunked      bool     // send the body without a Content-Length
	check        reqCheck
	want         int
}

func (r oasReq) String() string { return r.method + " " + r.path }

func (r oasReq) build(base string) (*http.Request, error) {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
		if r.chunked {
			body = struct{ io.Reader }{body} // an unknown length: chunked
		}
	}
	req, err := http.NewRequest(r.method, base+r.path, body)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(r.header); i += 2 {
		req.Header.Set(r.header[i], r.header[i+1])
	}
	return req, nil
}

// oasResp is a response, its body read.
type oasResp struct {
	status int
	header http.Header
	body   []byte
}

func (r oasResp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response body %q: %v", r.body, err)
	}
}

var oasFilterOptions = &openapi3filter.Options{
	// Leave the request as the test wrote it: no defaults filled in.
	SkipSettingDefaults: true,
	MultiError:          true,
}

// route finds the document's operation for a request, and checks the
// request against it as r.check says.
func (s *oasServer) route(t *testing.T, r oasReq) *openapi3filter.RequestValidationInput {
	t.Helper()
	vreq, err := r.build(s.srv.URL)
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	route, params, err := s.spec.router.FindRoute(vreq)
	if err != nil {
		t.Fatalf("%s: not an operation of %s: %v", r, oasDocPath, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: oasFilterOptions}
	err = openapi3filter.ValidateRequest(context.Background(), in)
	switch r.check {
	case reqValid:
		if err != nil {
			t.Errorf("%s: the request should conform to %s: %v", r, oasDocPath, err)
		}
	case reqInvalid:
		if err == nil {
			t.Errorf("%s: %s accepts the request, but the server is meant to refuse it", r, oasDocPath)
		}
	}
	return in
}

// do sends r, and checks the request (as r.check says) and the response
// against the document, and the status against r.want.
func (s *oasServer) do(t *testing.T, r oasReq) oasResp {
	t.Helper()
	in := s.route(t, r)
	req, err := r.build(s.srv.URL)
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: reading the response: %v", r, err)
	}
	resp := oasResp{status: res.StatusCode, header: res.Header, body: body}
	s.finish(t, r, in, resp)
	return resp
}

func (s *oasServer) finish(t *testing.T, r oasReq, in *openapi3filter.RequestValidationInput, resp oasResp) {
	t.Helper()
	if resp.status != r.want {
		t.Errorf("%s: status %d, want %d; body %s", r, resp.status, r.want, resp.body)
	}
	if err := s.spec.validateResponse(in, resp); err != nil {
		t.Errorf("%s: the response does not match %s:\n%v\nheaders: %v\nbody: %s", r, oasDocPath, err, resp.header, resp.body)
	}
	key := in.Route.Method + " " + in.Route.Path
	if s.spec.seen[key] == nil {
		s.spec.seen[key] = map[int]bool{}
	}
	s.spec.seen[key][resp.status] = true
}

// validateResponse checks a response against the operation in in.Route:
// kin-openapi's checks (a documented status, required headers and their
// schemas, the media type, the body's schema), plus what it leaves out:
// required headers of a 304, no body where the document shows none, and
// an error body's http_status_code equal to the status.
func (s *oasSpec) validateResponse(in *openapi3filter.RequestValidationInput, resp oasResp) error {
	var errs []error
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.status,
		Header:                 resp.header,
		Body:                   io.NopCloser(bytes.NewReader(resp.body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	})
	if err != nil {
		errs = append(errs, err)
	}
	ref := in.Route.Operation.Responses.Status(resp.status)
	if ref == nil || ref.Value == nil {
		return errors.Join(append(errs, fmt.Errorf("status %d is not documented", resp.status))...)
	}
	for _, name := range slices.Sorted(maps.Keys(ref.Value.Headers)) {
		if h := ref.Value.Headers[name]; h.Value != nil && h.Value.Required && resp.header.Get(name) == "" {
			errs = append(errs, fmt.Errorf("required header %s is missing", name))
		}
	}
	if len(ref.Value.Content) == 0 && len(resp.body) > 0 {
		errs = append(errs, fmt.Errorf("status %d has no body in the document, but the response has %d bytes", resp.status, len(resp.body)))
	}
	if resp.status >= 400 {
		var e struct {
			Status *int `json:"http_status_code"`
		}
		if err := json.Unmarshal(resp.body, &e); err != nil || e.Status == nil || *e.Status != resp.status {
			errs = append(errs, fmt.Errorf("error body's http_status_code is not %d", resp.status))
		}
	}
	return errors.Join(errs...)
}

// componentRoute is a stand-in operation whose only response is the
// component response name with the status, for the answers the document
// describes once for all URLs (404 and 405 under /api).
func (s *oasSpec) componentRoute(t *testing.T, req *http.Request, name string, status int) *openapi3filter.RequestValidationInput {
	t.Helper()
	ref := s.doc.Components.Responses[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("%s has no components.responses.%s", oasDocPath, name)
	}
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, ref))
	route := &routers.Route{Spec: s.doc, Path: req.URL.Path, Method: req.Method, Operation: op}
	return &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: oasFilterOptions}
}

// doUnrouted sends a request that is no operation of the document (an
// unknown URL, or a method the URL does not serve) and checks the answer
// against the NotFound or MethodNotAllowed component response.
func (s *oasServer) doUnrouted(t *testing.T, method, path string, want int, allow string) {
	t.Helper()
	r := oasReq{method: method, path: path, want: want}
	req, err := r.build(s.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	name, wantErr := "NotFound", routers.ErrPathNotFound
	if want == http.StatusMethodNotAllowed {
		name, wantErr = "MethodNotAllowed", routers.ErrMethodNotAllowed
	}
	if _, _, err := s.spec.router.FindRoute(req); !errors.Is(err, wantErr) {
		t.Errorf("%s: the document's router says %v, want %v", r, err, wantErr)
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	resp := oasResp{status: res.StatusCode, header: res.Header, body: body}
	if resp.status != want {
		t.Errorf("%s: status %d, want %d; body %s", r, resp.status, want, body)
	}
	if got := res.Header.Get("Allow"); got != allow {
		t.Errorf("%s: Allow %q, want %q", r, got, allow)
	}
	if err := s.spec.validateResponse(s.spec.componentRoute(t, req, name, want), resp); err != nil {
		t.Errorf("%s: the response does not match components.responses.%s:\n%v\nbody: %s", r, name, err, body)
	}
	s.spec.seenComponents[name] = true
}

// doBrokenBody sends method path with a chunked body whose framing is
// broken, so that the handler cannot read it (the 400 of POST, PUT and
// PATCH). net/http's client cannot send such a thing: it is written by hand.
func (s *oasServer) doBrokenBody(t *testing.T, method, path string) {
	t.Helper()
	// "zz" is no chunk size: reading the body fails at once.
	s.doRaw(t, method, path, "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", http.StatusBadRequest)
}

// doSlowBody sends method path with two bytes of a body of ten, and
// waits: the read timeout ends it (the 408 of POST, PUT and PATCH).
func (s *oasServer) doSlowBody(t *testing.T, method, path string) {
	t.Helper()
	s.doRaw(t, method, path, "Content-Length: 10\r\n\r\n{\"", http.StatusRequestTimeout)
}

// doRaw sends method path with the rest of a request (headers after the
// Content-Type, and a body) written by hand.
func (s *oasServer) doRaw(t *testing.T, method, path, rest string, want int) {
	t.Helper()
	r := oasReq{method: method, path: path, body: "{}", header: []string{"Content-Type", "application/json"}, check: reqUnchecked, want: want}
	in := s.route(t, r)
	u, err := url.Parse(s.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	raw := method + " " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nConnection: close\r\n" + rest
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), in.Request)
	if err != nil {
		t.Fatalf("%s: reading the response: %v", r, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: reading the response: %v", r, err)
	}
	s.finish(t, r, in, oasResp{status: res.StatusCode, header: res.Header, body: body})
}

// checkCoverage fails for every operation of the document, and every
// response status of each, that no request of the test produced, and for
// every component response that no operation uses and no check used.
func (s *oasSpec) checkCoverage(t *testing.T) {
	t.Helper()
	referenced := map[string]bool{}
	for _, path := range s.doc.Paths.InMatchingOrder() {
		for method, op := range s.doc.Paths.Value(path).Operations() {
			key := method + " " + path
			if len(s.seen[key]) == 0 {
				t.Errorf("%s: the document's operation %s was never exercised", oasDocPath, key)
				continue
			}
			for code, ref := range op.Responses.Map() {
				referenced[strings.TrimPrefix(ref.Ref, "#/components/responses/")] = true
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s: %s: response %q is not a plain status (the test cannot cover it)", oasDocPath, key, code)
					continue
				}
				if !s.seen[key][n] {
					t.Errorf("%s: %s: documented status %d was never produced", oasDocPath, key, n)
				}
			}
		}
	}
	for name := range s.doc.Components.Responses {
		if !referenced[name] && !s.seenComponents[name] {
			t.Errorf("%s: components.responses.%s is neither used by an operation nor checked by the test", oasDocPath, name)
		}
	}
	var keys []string
	for k, st := range s.seen {
		var codes []string
		for c := range st {
			codes = append(codes, strconv.Itoa(c))
		}
		sort.Strings(codes)
		keys = append(keys, k+" "+strings.Join(codes, ","))
	}
	sort.Strings(keys)
	t.Logf("exercised:\n  %s", strings.Join(keys, "\n  "))
}

var oasLinkRe = regexp.MustCompile(`<([^>]+)>; rel="([a-z]+)"`)

// links parses a Link header into relation -> URL.
func oasLinks(h string) map[string]string {
	out := map[string]string{}
	for _, m := range oasLinkRe.FindAllStringSubmatch(h, -1) {
		out[m[2]] = m[1]
	}
	return out
}

// pathOf is the path and query of an absolute URL the server gave, which
// must point back at the server under test.
func (s *oasServer) pathOf(t *testing.T, abs string) string {
	t.Helper()
	if !strings.HasPrefix(abs, s.srv.URL+"/") {
		t.Fatalf("URL %q does not point at the server %s", abs, s.srv.URL)
	}
	return strings.TrimPrefix(abs, s.srv.URL)
}

func jsonCT(more ...string) []string {
	return append([]string{"Content-Type", "application/json"}, more...)
}

func mergeCT(more ...string) []string {
	return append([]string{"Content-Type", "application/merge-patch+json"}, more...)
}

func TestOpenAPI(t *testing.T) {
	spec := loadOASSpec(t)
	var notReady atomic.Bool
	settings := map[string]any{
		"FARM_IF":        "127.0.0.1",
		"FARM_PORT":      int64(44444),
		"DATASTORE":      "RAM",
		"COUCHDB_URL":    "http://admin:***@127.0.0.1:5984",
		"TESTING":        true,
		"API_TOKEN":      "***",
		"RATIO":          0.5,
		"NOTHING":        nil,
		"MAX_BODY_BYTES": int64(oasMaxBody),
	}
	s := spec.start(t, farmhttp.Options{
		Store: ram.New(),
		About: farmhttp.About{
			Name:      "farm",
			Version:   "2026.06.15",
			Revision:  "0123456789abcdef0123456789abcdef01234567",
			GoVersion: "go1.26.0",
			Instance:  "test:1",
			Started:   oasNow.Add(-time.Hour),
		},
		Settings: func() map[string]any { return settings },
		Ready:    func() bool { return !notReady.Load() },
	})

	const (
		daisy  = "6f1c2a4e-0b5d-4a8e-9c3f-2d7e8b1a4c90"
		rosa   = "a-rosa"
		henny  = "b.henny~1"
		bull   = "c_bull"
		chick  = "d-chick"
		absent = "no-such-animal"
	)

	t.Run("create", func(t *testing.T) {
		r := s.do(t, oasReq{method: "POST", path: "/api/v1/animal", header: jsonCT(), want: 201,
			body: `{"id":"` + daisy + `","species":"cow","sex":"female","name":"Daisy","dob":"2021-04-01"}`})
		var ref struct{ ID, Href string }
		r.json(t, &ref)
		if loc := r.header.Get("Location"); loc != s.srv.URL+"/api/v1/animal/"+daisy {
			t.Errorf("Location %q", loc)
		}
		// Location points at an operation of the document.
		s.do(t, oasReq{method: "GET", path: s.pathOf(t, r.header.Get("Location")), want: 200})

		// species and sex in any case; stored lower-case.
		s.do(t, oasReq{method: "POST", path: "/api/v1/animal", header: jsonCT(), want: 201,
			body: `{"id":"` + rosa + `","species":"COW","sex":"Female","name":"Rosa"}`})
		g := s.do(t, oasReq{method: "GET", path: "/api/v1/animal/" + rosa, want: 200})
		var a map[string]any
		g.json(t, &a)
		if a["species"] != "cow" || a["sex"] != "female" {
			t.Errorf("stored %v, want lower-case species and sex", a)
		}
		// No Content-Type at all, as the original farm allowed.
		s.do(t, oasReq{method: "POST", path: "/api/v1/animal", check: reqUnchecked, want: 201,
			body: `{"id":"` + henny + `","species":"chicken","sex":"female","name":"Henny"}`})
		// A UTF-8 charset parameter.
		s.do(t, oasReq{method: "POST", path: "/api/v1/animal", header: []string{"Content-Type", "application/json; charset=utf-8"}, want: 201,
			body: `{"id":"` + bull + `","species":"cow","sex":"male","dob":"2020-02-29"}`})
		s.do(t, oasReq{method: "POST", path: "/api/v1/animal", header: jsonCT(), want: 201,
			body: `{"id":"` + chick + `","species":"chicken","sex":"male"}`})
	})

	t.Run("create failures", func(t *testing.T) {
		post := func(body string, check reqCheck, want int, header ...string) {
			t.Helper()
			if header == nil {
				header = jsonCT()
			}
			s.do(t, oasReq{method: "POST", path: "/api/v1/animal", header: header, body: body, check: check, want: want})
		}
		post(`{"id":"x1","species":"alien","sex":"male"}`, reqInvalid, 409)
		post(`{"species":"cow","sex":"male"}`, reqInvalid, 409)
		post(`{"id":"x2","species":"cow","sex":"male","colour":"brown"}`, reqInvalid, 409)
		post(`{"id":"x3","species":"cow","sex":"male","name":null}`, reqInvalid, 409)
		post(`{"id":"x4","species":"cow","sex":"male","dob":"2019-19-39"}`, reqInvalid, 409)
		post(`{"id":"x4","species":"cow","sex":"male","dob":"2023-02-29"}`, reqInvalid, 409)
		post(`{"id":"x5","species":"cow","sex":"male","name":"bad\u0007name"}`, reqInvalid, 409)
		post(`{"id":"..","species":"cow","sex":"male"}`, reqInvalid, 409)
		post(`{"id":"a/b","species":"cow","sex":"male"}`, reqInvalid, 409)
		post(`["not","an","object"]`, reqInvalid, 409)
		post(`not json`, reqInvalid, 409)
		// What the document cannot tell: an existing id, a repeated member,
		// a date in the future, trailing data.
		post(`{"id":"`+daisy+`","species":"cow","sex":"female"}`, reqValid, 409)
		post(`{"id":"x6","id":"x7","species":"cow","sex":"male"}`, reqUnchecked, 409)
		post(`{"id":"x8","species":"cow","sex":"male","dob":"2026-06-16"}`, reqValid, 409)
		post(`{"id":"x9","species":"cow","sex":"male"} {}`, reqUnchecked, 409)

		post(`{"id":"y1","species":"cow","sex":"male"}`, reqInvalid, 415, "Content-Type", "text/plain")
		post(`{"id":"y2","species":"cow","sex":"male"}`, reqUnchecked, 415, "Content-Type", "application/json; charset=latin1")
		post(`{"id":"y3","species":"cow","sex":"male"}`, reqInvalid, 415, "Content-Type", "application/merge-patch+json")

		big := `{"id":"y4","species":"cow","sex":"male","name":"` + strings.Repeat("x", 2*oasMaxBody) + `"}`
		post(big, reqUnchecked, 413)
		s.do(t, oasReq{method: "POST", path: "/api/v1/animal", header: jsonCT(), body: big, chunked: true, check: reqUnchecked, want: 413})
		s.doBrokenBody(t, "POST", "/api/v1/animal")
		s.doSlowBody(t, "POST", "/api/v1/animal")
	})

	t.Run("list", func(t *testing.T) {
		r := s.do(t, oasReq{method: "GET", path: "/api/v1/animal", want: 200})
		var refs []struct {
			ID   string `json:"id"`
			Href string `json:"_href"`
		}
		r.json(t, &refs)
		if got := r.header.Get("X-Total-Count"); got != "5" || len(refs) != 5 {
			t.Fatalf("X-Total-Count %q and %d records, want 5", got, len(refs))
		}
		if r.header.Get("Link") != "" {
			t.Errorf("Link %q on a listing that fits one page", r.header.Get("Link"))
		}
		for _, ref := range refs {
			s.do(t, oasReq{method: "GET", path: s.pathOf(t, ref.Href), want: 200})
		}

		r = s.do(t, oasReq{method: "GET", path: "/api/v1/animal?page=2&per_page=2", want: 200})
		links := oasLinks(r.header.Get("Link"))
		for _, rel := range []string{"first", "prev", "next", "last"} {
			if links[rel] == "" {
				t.Errorf("Link %q has no %s", r.header.Get("Link"), rel)
			}
		}
		// Every link is a request the document accepts.
		for _, l := range links {
			s.do(t, oasReq{method: "GET", path: s.pathOf(t, l), want: 200})
		}

		r = s.do(t, oasReq{method: "GET", path: "/api/v1/animal?species=COW&sex=female&per_page=1", want: 200})
		if got := r.header.Get("X-Total-Count"); got != "2" {
			t.Errorf("cows that are female: X-Total-Count %q, want 2", got)
		}
		s.do(t, oasReq{method: "GET", path: "/api/v1/animal?name=Daisy&dob=2021-04-01", want: 200})
		s.do(t, oasReq{method: "GET", path: "/api/v1/animal?species=chicken&sex=male&name=Nobody", want: 200})
		s.do(t, oasReq{method: "GET", path: "/api/v1/animal?per_page=3&fields=all", want: 200})
		s.do(t, oasReq{method: "GET", path: "/api/v1/animal?fields=id", want: 200})
		r = s.do(t, oasReq{method: "GET", path: "/api/v1/animal?page=99", want: 200})
		if l := oasLinks(r.header.Get("Link")); len(l) != 2 || l["first"] == "" || l["last"] == "" {
			t.Errorf("past the end: Link %q, want first and last only", r.header.Get("Link"))
		}

		bad := func(query string, check reqCheck) {
			t.Helper()
			s.do(t, oasReq{method: "GET", path: "/api/v1/animal?" + query, check: check, want: 400})
		}
		bad("page=0", reqInvalid)
		bad("page=abc", reqInvalid)
		bad("page=1.5", reqInvalid)
		bad("per_page=0", reqInvalid)
		bad("per_page=1001", reqInvalid)
		bad("per_page=-1", reqInvalid)
		bad("species=alien", reqInvalid)
		bad("sex=it", reqInvalid)
		bad("dob=2021-02-30", reqInvalid)
		bad("name=", reqInvalid)
		bad("dob=2026-06-16", reqValid) // in the future: only the server knows
		bad("colour=brown", reqUnchecked)
		bad("page=1&page=2", reqUnchecked)
		bad("page=99999999999999999999999", reqUnchecked)
	})

	t.Run("get", func(t *testing.T) {
		r := s.do(t, oasReq{method: "GET", path: "/api/v1/animal/" + daisy, want: 200})
		tag := r.header.Get("ETag")
		n := s.do(t, oasReq{method: "GET", path: "/api/v1/animal/" + daisy, header: []string{"If-None-Match", tag}, want: 304})
		if n.header.Get("ETag") != tag {
			t.Errorf("304 ETag %q, want %q", n.header.Get("ETag"), tag)
		}
		s.do(t, oasReq{method: "GET", path: "/api/v1/animal/" + daisy, header: []string{"If-None-Match", `"other", W/` + tag}, want: 304})
		s.do(t, oasReq{method: "GET", path: "/api/v1/animal/" + daisy, header: []string{"If-None-Match", "*"}, want: 304})
		s.do(t, oasReq{method: "GET", path: "/api/v1/animal/" + daisy, header: []string{"If-None-Match", `"other"`}, want: 200})
		s.do(t, oasReq{method: "GET", path: "/api/v1/animal/" + absent, want: 404})
	})

	t.Run("put", func(t *testing.T) {
		path := "/api/v1/animal/" + daisy
		tag := s.do(t, oasReq{method: "GET", path: path, want: 200}).header.Get("ETag")
		r := s.do(t, oasReq{method: "PUT", path: path, header: jsonCT("If-Match", tag), want: 200,
			body: `{"species":"Cow","sex":"female","name":"Daisy II"}`})
		var a map[string]any
		r.json(t, &a)
		if a["name"] != "Daisy II" || a["dob"] != nil || a["species"] != "cow" {
			t.Errorf("after PUT: %v", a)
		}
		if r.header.Get("ETag") == tag {
			t.Errorf("the ETag did not change")
		}
		newTag := r.header.Get("ETag")
		s.do(t, oasReq{method: "PUT", path: path, header: jsonCT(), want: 200,
			body: `{"id":"` + daisy + `","species":"cow","sex":"female","name":"Daisy","dob":"2021-04-01"}`})
		s.do(t, oasReq{method: "PUT", path: path, header: jsonCT("If-Match", newTag), want: 412,
			body: `{"species":"cow","sex":"female"}`})
		s.do(t, oasReq{method: "PUT", path: path, header: jsonCT("If-Match", "W/"+newTag), want: 412,
			body: `{"species":"cow","sex":"female"}`})
		s.do(t, oasReq{method: "PUT", path: "/api/v1/animal/" + absent, header: jsonCT(), want: 404,
			body: `{"species":"cow","sex":"female"}`})
		s.do(t, oasReq{method: "PUT", path: path, header: jsonCT(), check: reqInvalid, want: 409,
			body: `{"species":"cow"}`})
		s.do(t, oasReq{method: "PUT", path: path, header: jsonCT(), check: reqInvalid, want: 409,
			body: `{"species":"cow","sex":"female","dob":null}`})
		s.do(t, oasReq{method: "PUT", path: path, header: jsonCT(), check: reqValid, want: 409, // the id is the path's: only the server knows
			body: `{"id":"other","species":"cow","sex":"female"}`})
		s.do(t, oasReq{method: "PUT", path: path, header: []string{"Content-Type", "application/merge-patch+json"}, check: reqInvalid, want: 415,
			body: `{"species":"cow","sex":"female"}`})
		s.do(t, oasReq{method: "PUT", path: path, header: jsonCT(), check: reqUnchecked, want: 413,
			body: `{"species":"cow","sex":"female","name":"` + strings.Repeat("x", 2*oasMaxBody) + `"}`})
		s.doBrokenBody(t, "PUT", path)
		s.doSlowBody(t, "PUT", path)
	})

	t.Run("patch", func(t *testing.T) {
		path := "/api/v1/animal/" + daisy
		tag := s.do(t, oasReq{method: "GET", path: path, want: 200}).header.Get("ETag")
		r := s.do(t, oasReq{method: "PATCH", path: path, header: mergeCT("If-Match", tag), want: 200,
			body: `{"name":"Buttercup","dob":null}`})
		var a map[string]any
		r.json(t, &a)
		if a["name"] != "Buttercup" || a["dob"] != nil {
			t.Errorf("after PATCH: %v", a)
		}
		s.do(t, oasReq{method: "PATCH", path: path, header: jsonCT(), want: 200,
			body: `{"id":"` + daisy + `","dob":"2021-04-01","sex":"FEMALE"}`})
		s.do(t, oasReq{method: "PATCH", path: path, header: mergeCT(), want: 200,
			body: `{"name":"Daisy"}`})
		s.do(t, oasReq{method: "PATCH", path: path, header: mergeCT("If-Match", tag), want: 412,
			body: `{"name":"Lost update"}`})
		s.do(t, oasReq{method: "PATCH", path: "/api/v1/animal/" + absent, header: mergeCT(), want: 404,
			body: `{"name":"Nobody"}`})
		s.do(t, oasReq{method: "PATCH", path: path, header: mergeCT(), check: reqInvalid, want: 409,
			body: `{"species":null}`})
		s.do(t, oasReq{method: "PATCH", path: path, header: mergeCT(), check: reqInvalid, want: 409,
			body: `{"colour":"brown"}`})
		s.do(t, oasReq{method: "PATCH", path: path, header: mergeCT(), check: reqValid, want: 409, // id must stay: only the server knows
			body: `{"id":"other"}`})
		s.do(t, oasReq{method: "PATCH", path: path, header: []string{"Content-Type", "text/plain"}, check: reqInvalid, want: 415,
			body: `{"name":"Daisy"}`})
		s.do(t, oasReq{method: "PATCH", path: path, header: mergeCT(), check: reqUnchecked, want: 413,
			body: `{"name":"` + strings.Repeat("x", 2*oasMaxBody) + `"}`})
		s.doBrokenBody(t, "PATCH", path)
		s.doSlowBody(t, "PATCH", path)
	})

	t.Run("delete", func(t *testing.T) {
		path := "/api/v1/animal/" + chick
		tag := s.do(t, oasReq{method: "GET", path: path, want: 200}).header.Get("ETag")
		s.do(t, oasReq{method: "DELETE", path: path, header: []string{"If-Match", `"0-stale"`}, want: 412})
		r := s.do(t, oasReq{method: "DELETE", path: path, header: []string{"If-Match", tag}, want: 200})
		if got := strings.TrimSpace(string(r.body)); got != "{}" {
			t.Errorf("DELETE body %q, want {}", got)
		}
		s.do(t, oasReq{method: "GET", path: path, want: 404})
		s.do(t, oasReq{method: "DELETE", path: path, want: 404})
		s.do(t, oasReq{method: "DELETE", path: "/api/v1/animal/" + bull, want: 200})
	})

	t.Run("routing", func(t *testing.T) {
		s.doUnrouted(t, "GET", "/api/v1/nothing-here", 404, "")
		s.doUnrouted(t, "GET", "/api/v1/animal/a/b", 404, "")
		s.doUnrouted(t, "GET", "/api/v2/animal", 404, "")
		s.doUnrouted(t, "DELETE", "/api/v1/animal", 405, "GET, HEAD, POST")
		s.doUnrouted(t, "POST", "/api/v1/animal/"+daisy, 405, "GET, HEAD, PUT, PATCH, DELETE")
		s.doUnrouted(t, "POST", "/api/v1/_about", 405, "GET, HEAD")
		s.doUnrouted(t, "PUT", "/api/v1/_config", 405, "GET, HEAD")
	})

	t.Run("service", func(t *testing.T) {
		r := s.do(t, oasReq{method: "GET", path: "/api/v1/_about", want: 200})
		var about map[string]any
		r.json(t, &about)
		if about["name"] != "farm" || about["version"] != "2026.06.15" {
			t.Errorf("_about: %v", about)
		}
		c1 := s.do(t, oasReq{method: "GET", path: "/api/v1/_config", want: 200})
		c2 := s.do(t, oasReq{method: "GET", path: "/api/v1/_conf", want: 200})
		if !bytes.Equal(c1.body, c2.body) {
			t.Errorf("_config %s and _conf %s differ", c1.body, c2.body)
		}
		s.do(t, oasReq{method: "GET", path: "/livez", want: 200})
		s.do(t, oasReq{method: "GET", path: "/readyz", want: 200})
		notReady.Store(true)
		s.do(t, oasReq{method: "GET", path: "/readyz", want: 503})
		s.do(t, oasReq{method: "GET", path: "/livez", want: 200})
		notReady.Store(false)
	})

	t.Run("change feed", func(t *testing.T) {
		r := s.do(t, oasReq{method: "GET", path: "/api/v1/_changes", want: 200})
		var f struct {
			Results []map[string]any
			LastSeq int64 `json:"last_seq"`
		}
		r.json(t, &f)
		if len(f.Results) == 0 || f.LastSeq == 0 {
			t.Errorf("the feed after the animal tests: %s", r.body)
		}
		s.do(t, oasReq{method: "GET", path: "/api/v1/_changes?since=now&species=cow&limit=5", want: 200})
		s.do(t, oasReq{method: "GET", path: "/api/v1/_changes?since=-1", want: 400, check: reqInvalid})
		s.do(t, oasReq{method: "GET", path: "/api/v1/_changes?sinse=1", want: 400, check: reqUnchecked})

		short := ram.NewKeeping(2)
		g := spec.start(t, farmhttp.Options{Store: short, MaxStreams: 1})
		for i := range 4 {
			g.do(t, oasReq{method: "POST", path: "/api/v1/animal", header: jsonCT(), want: 201,
				body: `{"id":"g` + strconv.Itoa(i) + `","species":"cow","sex":"female"}`})
		}
		g.do(t, oasReq{method: "GET", path: "/api/v1/_changes?since=0", want: 410})
		// One stream open; the next is refused.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", g.srv.URL+"/api/v1/_changes?since=now", nil)
		req.Header.Set("Accept", "text/event-stream")
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("a stream: %v %v", res, err)
		}
		defer res.Body.Close()
		g.do(t, oasReq{method: "GET", path: "/api/v1/_changes", header: []string{"Accept", "text/event-stream"}, want: 503})
	})

	t.Run("broken store", func(t *testing.T) {
		st := ram.New()
		if err := st.Close(); err != nil { // a closed store fails every call
			t.Fatal(err)
		}
		b := spec.start(t, farmhttp.Options{Store: st})
		path := "/api/v1/animal/" + daisy
		b.do(t, oasReq{method: "GET", path: "/api/v1/animal", want: 500})
		b.do(t, oasReq{method: "POST", path: "/api/v1/animal", header: jsonCT(), want: 500,
			body: `{"id":"` + daisy + `","species":"cow","sex":"female"}`})
		b.do(t, oasReq{method: "GET", path: path, want: 500})
		b.do(t, oasReq{method: "PUT", path: path, header: jsonCT(), want: 500, body: `{"species":"cow","sex":"female"}`})
		b.do(t, oasReq{method: "PATCH", path: path, header: mergeCT(), want: 500, body: `{"name":"Daisy"}`})
		b.do(t, oasReq{method: "DELETE", path: path, want: 500})
		b.do(t, oasReq{method: "GET", path: "/readyz", want: 503})
		b.do(t, oasReq{method: "GET", path: "/livez", want: 200})
	})

	spec.checkCoverage(t)
}

// TestOpenAPIValidatorCatchesMismatches makes sure the checks above have
// teeth: responses that break the document in the ways a server could
// drift must be caught.
func TestOpenAPIValidatorCatchesMismatches(t *testing.T) {
	spec := loadOASSpec(t)
	route := func(method, path string) *openapi3filter.RequestValidationInput {
		t.Helper()
		req := httptest.NewRequest(method, "http://127.0.0.1:44444"+path, nil)
		rt, params, err := spec.router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: rt, Options: oasFilterOptions}
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	const href = "http://127.0.0.1:44444/api/v1/animal/a1"
	goodAnimal := `{"id":"a1","species":"cow","sex":"female"}`
	cases := []struct {
		name         string
		method, path string
		resp         oasResp
		ok           bool
	}{
		{"a good creation", "POST", "/api/v1/animal", oasResp{201, hdr("Location", href, "ETag", `"1-ab"`), []byte(`{"id":"a1","_href":"` + href + `"}`)}, true},
		{"creation without Location", "POST", "/api/v1/animal", oasResp{201, hdr("ETag", `"1-ab"`), []byte(`{"id":"a1","_href":"` + href + `"}`)}, false},
		{"creation without ETag", "POST", "/api/v1/animal", oasResp{201, hdr("Location", href), []byte(`{"id":"a1","_href":"` + href + `"}`)}, false},
		{"creation with a relative _href", "POST", "/api/v1/animal", oasResp{201, hdr("Location", href, "ETag", `"1-ab"`), []byte(`{"id":"a1","_href":"/api/v1/animal/a1"}`)}, false},
		{"a good record", "GET", "/api/v1/animal/a1", oasResp{200, hdr("ETag", `"1-ab"`), []byte(goodAnimal)}, true},
		{"a record with an extra member", "GET", "/api/v1/animal/a1", oasResp{200, hdr("ETag", `"1-ab"`), []byte(`{"id":"a1","species":"cow","sex":"female","colour":"brown"}`)}, false},
		{"a record with upper-case species", "GET", "/api/v1/animal/a1", oasResp{200, hdr("ETag", `"1-ab"`), []byte(`{"id":"a1","species":"Cow","sex":"female"}`)}, false},
		{"a record with a null name", "GET", "/api/v1/animal/a1", oasResp{200, hdr("ETag", `"1-ab"`), []byte(`{"id":"a1","species":"cow","sex":"female","name":null}`)}, false},
		{"a record without ETag", "GET", "/api/v1/animal/a1", oasResp{200, hdr(), []byte(goodAnimal)}, false},
		{"an unquoted ETag", "GET", "/api/v1/animal/a1", oasResp{200, hdr("ETag", `1-ab`), []byte(goodAnimal)}, false},
		{"a record as text", "GET", "/api/v1/animal/a1", oasResp{200, http.Header{"Content-Type": {"text/plain"}, "Etag": {`"1-ab"`}}, []byte(goodAnimal)}, false},
		{"a 304 without ETag", "GET", "/api/v1/animal/a1", oasResp{304, http.Header{}, nil}, false},
		{"a 304 with a body", "GET", "/api/v1/animal/a1", oasResp{304, http.Header{"Etag": {`"1-ab"`}}, []byte(goodAnimal)}, false},
		{"a listing without X-Total-Count", "GET", "/api/v1/animal", oasResp{200, hdr(), []byte(`[]`)}, false},
		{"a listing with a malformed Link", "GET", "/api/v1/animal", oasResp{200, hdr("X-Total-Count", "0", "Link", "page=2"), []byte(`[]`)}, false},
		{"a good error", "GET", "/api/v1/animal/a1", oasResp{404, hdr(), []byte(`{"http_status_code":404,"text":"animal \"a1\" not found"}`)}, true},
		{"an error with the wrong http_status_code", "GET", "/api/v1/animal/a1", oasResp{404, hdr(), []byte(`{"http_status_code":400,"text":"no"}`)}, false},
		{"an error with an extra member", "GET", "/api/v1/animal/a1", oasResp{404, hdr(), []byte(`{"http_status_code":404,"text":"no","detail":"x"}`)}, false},
		{"an error without text", "GET", "/api/v1/animal/a1", oasResp{404, hdr(), []byte(`{"http_status_code":404}`)}, false},
		{"an undocumented status", "GET", "/api/v1/_about", oasResp{404, hdr(), []byte(`{"http_status_code":404,"text":"no"}`)}, false},
		{"a version that is not a date", "GET", "/api/v1/_about", oasResp{200, hdr(), []byte(`{"name":"farm","version":"v1.2.3","go_version":"go1.26.0","instance":"i","started":"2026-06-15T12:00:00Z"}`)}, false},
		{"a delete answer that is not {}", "DELETE", "/api/v1/animal/a1", oasResp{200, hdr(), []byte(`{"deleted":true}`)}, false},
		{"a config holding an object", "GET", "/api/v1/_config", oasResp{200, hdr(), []byte(`{"A":{"b":1}}`)}, false},
	}
	for _, c := range cases {
		err := spec.validateResponse(route(c.method, c.path), c.resp)
		if c.ok && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s: not caught", c.name)
		}
	}
}
