// Package config reads farm's configuration: the original farm's farm.cfg
// format (KEY=VALUE lines of Python literals), then environment variables
// of the same names, over built-in defaults. Every key is checked before
// the server starts; a broken file stops it with file:line: problem.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/farmhq/farm/redact"
)

// DefaultPath is where farm looks when no -c is given.
const DefaultPath = "conf/farm.cfg"

// Datastore names, as DATASTORE spells them.
const (
	StoreRAM     = "RAM"
	StoreSQLite  = "SQLite"
	StoreCouchDB = "CouchDB"
)

// Config is the effective configuration.
type Config struct {
	Interface      string      // FARM_IF
	Port           int         // FARM_PORT; 0 picks a free port
	URL            string      // FARM_URL: where clients reach farm; derived from FARM_IF and FARM_PORT when empty
	PublicURL      string      // PUBLIC_URL: the base of the absolute URLs farm answers with
	AllowedHosts   []string    // ALLOWED_HOSTS: the Host names that are farm's own
	Instance       string      // FARM_INSTANCE: this instance's name; host:pid when empty
	MetricsAddr    string      // METRICS_ADDR: host:port of this instance's own metrics listener, or none
	UwsgiSocket    string      // UWSGI_SOCKET: unix socket path for the uwsgi protocol (NGINX uwsgi_pass)
	UwsgiAddr      string      // UWSGI_ADDR: host:port for the uwsgi protocol over TCP
	HTTPSocket     string      // HTTP_SOCKET: unix socket path for HTTP (NGINX proxy_pass)
	UwsgiWrites    string      // UWSGI_WRITES_SOCKET: the uwsgi socket of the instance that writes the database
	HTTPWrites     string      // HTTP_WRITES_SOCKET: the HTTP socket of the instance that writes the database
	SocketMode     os.FileMode // SOCKET_MODE: file mode of the unix sockets
	MaxInFlight    int         // MAX_IN_FLIGHT: requests answered at once; 503 past it
	MaxStreams     int         // MAX_STREAMS: change feed streams open at once; 503 past it
	ReadTimeout    int         // READ_TIMEOUT: seconds a request may take to arrive, body included; 408 past it
	KeepChanges    int         // CHANGES_KEEP: changes the store keeps for the feed
	WriteTokenFile string      // WRITE_TOKEN_FILE: the tokens that may write; writes are open when empty
	LogLevel       string      // LOGGING_LEVEL
	LogFormat      string      // LOG_FORMAT: text or json
	AccessLog      bool        // ACCESS_LOG: one log line per request
	Profiling      bool        // PROFILING: net/http/pprof on METRICS_ADDR
	Datastore      string      // DATASTORE: RAM, SQLite or CouchDB
	SQLitePath     string      // SQLITE_PATH
	CouchDBURL     string      // COUCHDB_URL
	MaxBodyBytes   int64       // MAX_BODY_BYTES
	StaticDir      string      // STATIC_DIR: serve this folder instead of the embedded pages
	Env            string      // ENV
	Testing        bool        // TESTING
	Debug          bool        // DEBUG

	// File is the file read, or "" when the built-in defaults stand alone.
	File string
	// Warnings are problems that do not stop farm (unknown keys, say).
	Warnings []string

	values map[string]any  // every key, known or not, for Values
	given  map[string]bool // keys set by the file or the environment
}

// kind is the type a known key takes.
type kind int

const (
	kString kind = iota
	kInt
	kBool
)

// spec describes one known key.
type spec struct {
	key   string
	kind  kind
	def   any
	check func(c *Config, v any) (any, error) // optional: checks and normalises
	set   func(c *Config, v any)
	doc   string
}

// Keys lists the known keys with their defaults and meaning, for docs and
// for `farm config`.
func Keys() []KeyDoc {
	out := make([]KeyDoc, len(specs))
	for i, s := range specs {
		out[i] = KeyDoc{Key: s.key, Default: s.def, Doc: s.doc}
	}
	return out
}

// KeyDoc documents one key.
type KeyDoc struct {
	Key     string
	Default any
	Doc     string
}

var specs = []spec{
	{key: "FARM_IF", kind: kString, def: "127.0.0.1", doc: "HTTP interface to listen on",
		set: func(c *Config, v any) { c.Interface = v.(string) }},
	{key: "FARM_PORT", kind: kInt, def: int64(44444), doc: "HTTP port (0: any free port)",
		check: intRange(0, 65535), set: func(c *Config, v any) { c.Port = int(v.(int64)) }},
	{key: "FARM_URL", kind: kString, def: "", doc: "where the CLI reaches farm (default: from FARM_IF and FARM_PORT)",
		check: httpURL(true), set: func(c *Config, v any) { c.URL = v.(string) }},
	{key: "PUBLIC_URL", kind: kString, def: "", doc: "the base of the absolute URLs farm answers with (Location, Link, _href) when a request's Host is not in ALLOWED_HOSTS; default FARM_URL, else http://FARM_IF:FARM_PORT",
		check: publicURL, set: func(c *Config, v any) { c.PublicURL = v.(string) }},
	{key: "ALLOWED_HOSTS", kind: kString, def: "localhost, 127.0.0.1, ::1", doc: "host names (any port) whose Host header farm's URLs may repeat, comma-separated; PUBLIC_URL's host is always one",
		check: hostList, set: func(c *Config, v any) { c.AllowedHosts = splitList(v.(string)) }},
	{key: "FARM_INSTANCE", kind: kString, def: "", doc: "this instance's name (default host:pid)",
		set: func(c *Config, v any) { c.Instance = v.(string) }},
	{key: "METRICS_ADDR", kind: kString, def: "", doc: "this instance's own metrics listener, host:port (for Prometheus to scrape each instance)",
		check: hostPort, set: func(c *Config, v any) { c.MetricsAddr = v.(string) }},
	{key: "UWSGI_SOCKET", kind: kString, def: "", doc: "unix socket for the uwsgi protocol, for NGINX's uwsgi_pass (e.g. '/run/farm/farm.socket')",
		set: func(c *Config, v any) { c.UwsgiSocket = v.(string) }},
	{key: "UWSGI_ADDR", kind: kString, def: "", doc: "host:port for the uwsgi protocol over TCP",
		check: hostPort, set: func(c *Config, v any) { c.UwsgiAddr = v.(string) }},
	{key: "HTTP_SOCKET", kind: kString, def: "", doc: "unix socket for HTTP, for NGINX's proxy_pass to an upstream with keepalive",
		set: func(c *Config, v any) { c.HTTPSocket = v.(string) }},
	{key: "UWSGI_WRITES_SOCKET", kind: kString, def: "", doc: "unix socket for the uwsgi protocol that only the instance writing the SQLite database listens on (whichever it is), for NGINX to send writes to first; shared by the instances (e.g. '/run/farm/farm_writes.socket')",
		set: func(c *Config, v any) { c.UwsgiWrites = v.(string) }},
	{key: "HTTP_WRITES_SOCKET", kind: kString, def: "", doc: "as UWSGI_WRITES_SOCKET, for HTTP",
		set: func(c *Config, v any) { c.HTTPWrites = v.(string) }},
	{key: "SOCKET_MODE", kind: kString, def: "0660", doc: "file mode of the unix sockets, octal; NGINX's workers must be able to connect",
		check: octalMode, set: func(c *Config, v any) {
			m, _ := strconv.ParseUint(v.(string), 8, 32)
			c.SocketMode = os.FileMode(m)
		}},
	{key: "WRITE_TOKEN_FILE", kind: kString, def: "", doc: "a file of write tokens, one a line: POST, PUT, PATCH and DELETE then need Authorization: Bearer <token>; the CLI sends the first",
		set: func(c *Config, v any) { c.WriteTokenFile = v.(string) }},
	{key: "LOGGING_LEVEL", kind: kString, def: "INFO", doc: "CRITICAL, ERROR, WARNING, INFO or DEBUG",
		check: oneOf("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"), set: func(c *Config, v any) { c.LogLevel = v.(string) }},
	{key: "LOG_FORMAT", kind: kString, def: "text", doc: "text or json",
		check: oneOf("text", "json"), set: func(c *Config, v any) { c.LogFormat = v.(string) }},
	{key: "ACCESS_LOG", kind: kBool, def: true, doc: "log one line per request (NGINX logs them too in production)",
		set: func(c *Config, v any) { c.AccessLog = v.(bool) }},
	{key: "PROFILING", kind: kBool, def: false, doc: "serve Go's profiles (net/http/pprof) at /debug/pprof/ on METRICS_ADDR",
		set: func(c *Config, v any) { c.Profiling = v.(bool) }},
	{key: "DATASTORE", kind: kString, def: StoreSQLite, doc: "RAM (tests), SQLite (embedded, durable) or CouchDB",
		check: oneOf(StoreRAM, StoreSQLite, StoreCouchDB), set: func(c *Config, v any) { c.Datastore = v.(string) }},
	{key: "SQLITE_PATH", kind: kString, def: "farm.db", doc: "the SQLite database file",
		check: nonEmpty, set: func(c *Config, v any) { c.SQLitePath = v.(string) }},
	{key: "COUCHDB_URL", kind: kString, def: "http://127.0.0.1:5984", doc: "where CouchDB is, for DATASTORE='CouchDB'; the path names the database (default db_animal, the original farm's)",
		check: httpURL(false), set: func(c *Config, v any) { c.CouchDBURL = v.(string) }},
	{key: "MAX_IN_FLIGHT", kind: kInt, def: int64(256), doc: "requests on the animal routes answered at once by this instance; past it, 503 with Retry-After at once (0: no bound)",
		check: intRange(0, 1<<20), set: func(c *Config, v any) { c.MaxInFlight = int(v.(int64)) }},
	{key: "READ_TIMEOUT", kind: kInt, def: int64(30), doc: "seconds a request may take to arrive, headers and body (through NGINX a POST's or PATCH's body streams to farm, so this bounds a client that trickles it); past it, 408",
		check: intRange(1, 3600), set: func(c *Config, v any) { c.ReadTimeout = int(v.(int64)) }},
	{key: "MAX_STREAMS", kind: kInt, def: int64(1000), doc: "change feed streams (Server-Sent Events) this instance keeps open at once; past it, 503 with Retry-After",
		check: intRange(1, 1<<20), set: func(c *Config, v any) { c.MaxStreams = int(v.(int64)) }},
	{key: "CHANGES_KEEP", kind: kInt, def: int64(100000), doc: "changes the store keeps for the change feed (the newest); a feed asked from before them is 410",
		check: intRange(1, 1<<30), set: func(c *Config, v any) { c.KeepChanges = int(v.(int64)) }},
	{key: "MAX_BODY_BYTES", kind: kInt, def: int64(1 << 20), doc: "largest request body accepted (413 past it)",
		check: intRange(1, 1<<40), set: func(c *Config, v any) { c.MaxBodyBytes = v.(int64) }},
	{key: "STATIC_DIR", kind: kString, def: "", doc: "serve web pages from this folder instead of the embedded ones",
		set: func(c *Config, v any) { c.StaticDir = v.(string) }},
	{key: "ENV", kind: kString, def: "production", doc: "accepted and shown, as in the original",
		set: func(c *Config, v any) { c.Env = v.(string) }},
	{key: "TESTING", kind: kBool, def: false, doc: "accepted and shown, as in the original",
		set: func(c *Config, v any) { c.Testing = v.(bool) }},
	{key: "DEBUG", kind: kBool, def: false, doc: "accepted and shown, as in the original",
		set: func(c *Config, v any) { c.Debug = v.(bool) }},
}

func specFor(key string) *spec {
	for i := range specs {
		if specs[i].key == key {
			return &specs[i]
		}
	}
	return nil
}

func intRange(lo, hi int64) func(*Config, any) (any, error) {
	return func(_ *Config, v any) (any, error) {
		if n := v.(int64); n < lo || n > hi {
			return nil, fmt.Errorf("must be from %d to %d, not %d", lo, hi, n)
		}
		return v, nil
	}
}

// oneOf matches case-insensitively and returns the canonical spelling.
func oneOf(allowed ...string) func(*Config, any) (any, error) {
	return func(_ *Config, v any) (any, error) {
		for _, a := range allowed {
			if strings.EqualFold(a, v.(string)) {
				return a, nil
			}
		}
		return nil, fmt.Errorf("must be one of %s, not %q", strings.Join(allowed, ", "), v)
	}
}

// hostPort checks an address to listen on: host:port, host optional, or
// empty for none.
func hostPort(_ *Config, v any) (any, error) {
	s := v.(string)
	if s == "" {
		return v, nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return nil, fmt.Errorf("must be host:port (e.g. '127.0.0.1:9101'), not %q", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return nil, fmt.Errorf("port %q must be a number from 0 to 65535", port)
	}
	return v, nil
}

// octalMode checks a unix file mode written in octal, '0660' or '660'.
func octalMode(_ *Config, v any) (any, error) {
	s := strings.TrimPrefix(v.(string), "0o")
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return nil, fmt.Errorf("must be an octal file mode such as '0660', not %q", v)
	}
	if m&0o600 != 0o600 {
		return nil, fmt.Errorf("%q leaves the owner (farm itself) without read and write", v)
	}
	return fmt.Sprintf("%04o", m), nil
}

// publicURL checks a base URL: http or https, a host, no path, no user.
func publicURL(_ *Config, v any) (any, error) {
	s := v.(string)
	if s == "" {
		return v, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("must be a base URL such as 'https://farm.example.com' (scheme, host, port; no path), not %q", redact.URLs(s))
	}
	return strings.TrimSuffix(s, "/"), nil
}

// hostList checks a comma-separated list of host names or addresses.
func hostList(_ *Config, v any) (any, error) {
	for _, h := range splitList(v.(string)) {
		if strings.ContainsAny(h, "/:@ ") && net.ParseIP(h) == nil {
			return nil, fmt.Errorf("must be host names or addresses without ports, comma-separated, not %q", h)
		}
	}
	return v, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func nonEmpty(_ *Config, v any) (any, error) {
	if v.(string) == "" {
		return nil, fmt.Errorf("must not be empty")
	}
	return v, nil
}

var urlRe = regexp.MustCompile(`(?i)^https?://[^/\s]+(/\S*)?$`)

func httpURL(emptyOK bool) func(*Config, any) (any, error) {
	return func(_ *Config, v any) (any, error) {
		s := v.(string)
		if s == "" && emptyOK {
			return v, nil
		}
		if !urlRe.MatchString(s) {
			return nil, fmt.Errorf("must be an http:// or https:// URL, not %q", redact.URLs(s))
		}
		return v, nil
	}
}

// Load reads the configuration. path is the -c value; "" means
// DefaultPath, which may be absent (built-in defaults), while a file named
// explicitly must exist. getenv looks up environment overrides.
func Load(path string, getenv func(string) (string, bool)) (*Config, error) {
	explicit := path != ""
	if !explicit {
		path = DefaultPath
	}
	var entries []entry
	text, err := os.ReadFile(path)
	switch {
	case err == nil:
		entries, err = parse(string(text))
		if err != nil {
			var le *lineError
			if errors.As(err, &le) {
				return nil, fmt.Errorf("%s:%d: %s", path, le.line, le.msg)
			}
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		path = ""
	default:
		return nil, fmt.Errorf("config: %w", err)
	}
	return build(path, entries, getenv)
}

func build(path string, entries []entry, getenv func(string) (string, bool)) (*Config, error) {
	c := &Config{File: path, values: map[string]any{}, given: map[string]bool{}}
	for _, s := range specs {
		c.values[s.key] = s.def
	}
	where := func(line int) string {
		return fmt.Sprintf("%s:%d", path, line)
	}
	firstLine := map[string]int{}
	for _, e := range entries {
		if prev, ok := firstLine[e.key]; ok {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s is set again (first on line %d); the later value wins, as in Python", where(e.line), e.key, prev))
		} else {
			firstLine[e.key] = e.line
		}
		s := specFor(e.key)
		if s == nil {
			c.values[e.key] = e.value
			continue
		}
		v, err := s.accept(c, e.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", where(e.line), e.key, err)
		}
		c.values[e.key] = v
		c.given[e.key] = true
	}
	// Environment variables override the file, as plain text.
	keys := make([]string, 0, len(c.values))
	for key := range c.values {
		keys = append(keys, key)
	}
	slices.Sort(keys) // so that of several bad variables, the same one is named every time
	for _, key := range keys {
		raw, ok := getenv(key)
		if !ok {
			continue
		}
		s := specFor(key)
		if s == nil {
			c.values[key] = raw
			continue
		}
		v, err := s.fromText(raw)
		if err == nil {
			v, err = s.accept(c, v)
		}
		if err != nil {
			return nil, fmt.Errorf("environment variable %s: %v", key, err)
		}
		c.values[key] = v
		c.given[key] = true
	}
	for _, s := range specs {
		s.set(c, c.values[s.key])
	}
	var unknown []string
	for key := range c.values {
		if specFor(key) == nil {
			unknown = append(unknown, key)
		}
	}
	slices.Sort(unknown)
	for _, key := range unknown {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: %s is not a key farm knows; it is kept and shown in _config", path, firstLine[key], key))
	}
	return c, nil
}

// accept checks a value of the key's type from a file or from fromText.
func (s *spec) accept(c *Config, v any) (any, error) {
	if v == nil {
		return nil, fmt.Errorf("None is not a value of this key; leave the line out for the default (%v)", pyRepr(s.def))
	}
	ok := false
	switch s.kind {
	case kString:
		_, ok = v.(string)
	case kInt:
		_, ok = v.(int64)
	case kBool:
		_, ok = v.(bool)
	}
	if !ok {
		return nil, fmt.Errorf("must be %s, not %s", kindName(s.kind), pyRepr(v))
	}
	if s.check != nil {
		return s.check(c, v)
	}
	return v, nil
}

// fromText reads an environment variable's plain text as the key's type.
func (s *spec) fromText(raw string) (any, error) {
	switch s.kind {
	case kInt:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be a whole number, not %q", raw)
		}
		return n, nil
	case kBool:
		switch strings.ToLower(strings.TrimSpace(raw)) {
		case "true", "1", "yes", "on":
			return true, nil
		case "false", "0", "no", "off", "":
			return false, nil
		}
		return nil, fmt.Errorf("must be True or False, not %q", raw)
	}
	return raw, nil
}

func kindName(k kind) string {
	switch k {
	case kInt:
		return "a whole number"
	case kBool:
		return "True or False"
	}
	return "a quoted string"
}

// pyRepr shows a value as the file would spell it.
func pyRepr(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case string:
		return "'" + t + "'"
	case float64:
		s := strconv.FormatFloat(t, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0" // as Python shows a float: 44444.0, not 44444
		}
		return s
	}
	return fmt.Sprint(v)
}

// HTTPAddr is the host:port of the HTTP listener, and false when there is
// none: a configuration that names a socket (UWSGI_SOCKET, UWSGI_ADDR,
// HTTP_SOCKET) and neither FARM_IF nor FARM_PORT serves only its sockets,
// as the production farm_uwsgi.cfg does (NGINX owns port 44444 then).
func (c *Config) HTTPAddr() (string, bool) {
	sockets := c.UwsgiSocket != "" || c.UwsgiAddr != "" || c.HTTPSocket != ""
	if sockets && !c.given["FARM_IF"] && !c.given["FARM_PORT"] {
		return "", false
	}
	return net.JoinHostPort(c.Interface, strconv.Itoa(c.Port)), true
}

// Values returns every key with its effective value, secrets redacted:
// what GET /api/v1/_config shows and `farm config` prints. As the spec
// has it, the value of any key whose name names a secret (redact.Key) is
// hidden whole, known keys included: WRITE_TOKEN_FILE names a token, so
// its path is hidden too (an empty value still shows that none is set).
// The passwords inside URLs are hidden in every other value.
func (c *Config) Values() map[string]any {
	out := make(map[string]any, len(c.values))
	for k, v := range c.values {
		out[k] = redacted(k, v)
	}
	return out
}

// redacted is the value v of key k as Values shows it.
func redacted(k string, v any) any {
	switch s, isString := v.(string); {
	case isString:
		return redact.Value(k, s)
	case v != nil && redact.Key(k):
		return redact.Mask
	}
	return v
}

// ScriptValue returns the value of one key for `farm config --get`, which
// scripts use: a known key's value as it is but for the passwords inside
// URLs (scripts/stack.sh reads WRITE_TOKEN_FILE's path so to create the
// file: none of farm's own keys holds a secret but in a URL), any other
// key's as Values shows it. It is false when the key is not set at all.
func (c *Config) ScriptValue(key string) (any, bool) {
	v, ok := c.values[key]
	if !ok {
		return nil, false
	}
	if s, isString := v.(string); isString && specFor(key) != nil {
		return redact.URLs(s), true
	}
	return redacted(key, v), true
}

// Value returns the effective value of any key, known or not.
func (c *Config) Value(key string) (any, bool) {
	v, ok := c.values[key]
	return v, ok
}

// Public is the base of the absolute URLs farm answers with for a Host
// that is not its own: PUBLIC_URL, else FARM_URL, else the HTTP listener's
// address (a wildcard one as 127.0.0.1), else "" (farm then uses
// http://localhost).
func (c *Config) Public() string {
	switch {
	case c.PublicURL != "":
		return c.PublicURL
	case c.URL != "":
		if u, err := url.Parse(c.URL); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	if _, ok := c.HTTPAddr(); ok {
		return c.ClientURL()
	}
	return ""
}

// ClientURL is the base URL a client uses to reach farm.
func (c *Config) ClientURL() string {
	if c.URL != "" {
		return strings.TrimRight(c.URL, "/")
	}
	host := c.Interface
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		host = "127.0.0.1"
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + strconv.Itoa(c.Port)
}
