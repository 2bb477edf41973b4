package config

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// noEnv is a getenv with no variables set.
func noEnv(string) (string, bool) { return "", false }

// env is a getenv over a map.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeConfig writes text to a fresh file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "farm.cfg")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// load writes text to a file and loads it with getenv.
func load(t *testing.T, text string, getenv func(string) (string, bool)) (*Config, string, error) {
	t.Helper()
	path := writeConfig(t, text)
	c, err := Load(path, getenv)
	return c, path, err
}

// defaults is the configuration with nothing set.
var defaults = Config{
	Interface:    "127.0.0.1",
	Port:         44444,
	LogLevel:     "INFO",
	LogFormat:    "text",
	AccessLog:    true,
	Datastore:    StoreSQLite,
	SQLitePath:   "farm.db",
	CouchDBURL:   "http://127.0.0.1:5984",
	MaxBodyBytes: 1 << 20,
	SocketMode:   0o660,
	MaxInFlight:  256,
	MaxStreams:   1000,
	ReadTimeout:  30,
	KeepChanges:  100000,
	AllowedHosts: []string{"localhost", "127.0.0.1", "::1"},
	Env:          "production",
}

// fields is c without its bookkeeping, for comparisons.
func fields(c *Config) Config {
	d := *c
	d.File, d.Warnings, d.values, d.given = "", nil, nil, nil
	return d
}

func TestLoadDefaultFileMissing(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load("", noEnv)
	if err != nil {
		t.Fatalf("Load with no conf/farm.cfg = %v, want the defaults", err)
	}
	if got := fields(c); !reflect.DeepEqual(got, defaults) {
		t.Errorf("defaults = %+v,\nwant %+v", got, defaults)
	}
	if c.File != "" || len(c.Warnings) != 0 {
		t.Errorf("File %q, Warnings %q; want none", c.File, c.Warnings)
	}
	vals := c.Values()
	for _, k := range Keys() {
		if _, ok := vals[k.Key]; !ok {
			t.Errorf("Values() lacks the known key %s", k.Key)
		}
	}
	if len(vals) != len(Keys()) {
		t.Errorf("Values() has %d keys, want %d: %v", len(vals), len(Keys()), vals)
	}
}

func TestLoadDefaultFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("conf", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.FromSlash(DefaultPath), []byte("FARM_PORT=8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.File != DefaultPath {
		t.Errorf("Port %d File %q; want 8080 from %s", c.Port, c.File, DefaultPath)
	}
	// A broken default file is an error, not a silent fallback.
	if err := os.WriteFile(filepath.FromSlash(DefaultPath), []byte("FARM_PORT=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("", noEnv); err == nil || !strings.HasPrefix(err.Error(), DefaultPath+":1: ") {
		t.Errorf("Load of a broken default file = %v, want %s:1: ...", err, DefaultPath)
	}
}

func TestLoadExplicitFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.cfg")
	c, err := Load(path, noEnv)
	if err == nil {
		t.Fatalf("Load(%s) = %+v, want an error", path, c)
	}
	if !strings.Contains(err.Error(), "nope.cfg") {
		t.Errorf("error %q does not name the file", err)
	}
	// A directory is not a file either.
	if _, err := Load(t.TempDir(), noEnv); err == nil {
		t.Error("Load of a directory = nil, want an error")
	}
}

func TestLoadGoodFile(t *testing.T) {
	text := "\ufeff# farm configuration\r\n" +
		"FARM_IF = '0.0.0.0'   # all interfaces\r\n" +
		"FARM_PORT=0x1F\r\n" +
		"FARM_URL=\"https://farm.example.com/\"\r\n" +
		"FARM_INSTANCE=r'node\\1'\r\n" +
		"LOGGING_LEVEL='debug'\r\n" +
		"LOG_FORMAT=\"JSON\"\r\n" +
		"DATASTORE='couchdb'\r\n" +
		"SQLITE_PATH='/var/lib/farm/farm.db'\r\n" +
		"COUCHDB_URL='http://admin:pw@couch:5984'\r\n" +
		"MAX_BODY_BYTES=1_000\r\n" +
		"STATIC_DIR=\"st#tic\" # a '#' inside quotes is not a comment\r\n" +
		"ENV='dev\\tx'\r\n" +
		"TESTING=True\r\n" +
		"DEBUG = False\r\n" +
		"RATIO=0.5\r\n" +
		"OFFSET=-5\r\n" +
		"NOTHING=None\r\n"
	c, path, err := load(t, text, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Interface:    "0.0.0.0",
		Port:         31,
		URL:          "https://farm.example.com/",
		Instance:     `node\1`,
		LogLevel:     "DEBUG",
		LogFormat:    "json",
		AccessLog:    true,
		Datastore:    StoreCouchDB,
		SQLitePath:   "/var/lib/farm/farm.db",
		CouchDBURL:   "http://admin:pw@couch:5984",
		MaxBodyBytes: 1000,
		SocketMode:   0o660,
		MaxInFlight:  256,
		MaxStreams:   1000,
		ReadTimeout:  30,
		KeepChanges:  100000,
		AllowedHosts: []string{"localhost", "127.0.0.1", "::1"},
		StaticDir:    "st#tic",
		Env:          "dev\tx",
		Testing:      true,
		Debug:        false,
	}
	if got := fields(c); !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v,\nwant %+v", got, want)
	}
	if c.File != path {
		t.Errorf("File = %q, want %q", c.File, path)
	}
	for key, want := range map[string]any{"RATIO": 0.5, "OFFSET": int64(-5), "NOTHING": nil, "FARM_PORT": int64(31), "TESTING": true} {
		got, ok := c.Value(key)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("Value(%s) = %#v, %v; want %#v", key, got, ok, want)
		}
	}
	if _, ok := c.Value("MISSING"); ok {
		t.Error("Value(MISSING) found a value")
	}
	// Unknown keys warn, each naming its line.
	want3 := []string{path + ":18: NOTHING", path + ":17: OFFSET", path + ":16: RATIO"}
	if len(c.Warnings) != 3 {
		t.Fatalf("Warnings = %q, want 3", c.Warnings)
	}
	for i, w := range want3 {
		if !strings.HasPrefix(c.Warnings[i], w+" is not a key farm knows") {
			t.Errorf("warning %d = %q, want %q...", i, c.Warnings[i], w)
		}
	}
}

// Python 3's string prefixes: u'...' (or U) is the same string as '...',
// r'...' (or R) a raw one, without escapes.
func TestLoadStringPrefixes(t *testing.T) {
	text := "FARM_IF = u'127.0.0.2'\n" +
		"ENV=U\"dev\\tx\"\n" +
		"SQLITE_PATH=r'C:\\farm\\new.db' # \\n is no escape here\n" +
		"STATIC_DIR=R\"st\\\"atic\"\n"
	c, _, err := load(t, text, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Interface != "127.0.0.2" || c.Env != "dev\tx" || c.SQLitePath != `C:\farm\new.db` || c.StaticDir != `st\"atic` {
		t.Errorf("Load(%q) = FARM_IF %q, ENV %q, SQLITE_PATH %q, STATIC_DIR %q", text, c.Interface, c.Env, c.SQLitePath, c.StaticDir)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	for _, text := range []string{"", "\n", "# nothing\n", "\ufeff"} {
		c, path, err := load(t, text, noEnv)
		if err != nil {
			t.Fatalf("Load(%q) = %v", text, err)
		}
		if !reflect.DeepEqual(fields(c), defaults) || c.File != path || len(c.Warnings) != 0 {
			t.Errorf("Load(%q) = %+v", text, c)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		text string
		line int
		want string
	}{
		{"FARM_PORT 44444", 1, "expected KEY=VALUE"},
		{"# c\n1ABC=1", 2, "is not a valid key"},
		{"'A-B'=1", 1, "is not a valid key"},
		{"FARM_PORT=", 1, "FARM_PORT: missing value"},
		{"FARM_IF='127.0.0.1", 1, "unterminated string"},
		{"\n\nFARM_IF=localhost", 3, "FARM_IF: \"localhost\" is not a value"},
		{"TESTING=true", 1, "not a Python literal"},
		{"FARM_PORT=44444 x", 1, "unexpected \"x\" after the value"},
		{"FARM_PORT==44444", 1, "'=='"},
		{"FARM_PORT=0123", 1, "leading zeros"},
		{"FARM_IF='''x'''", 1, "triple-quoted"},
		{"FARM_PORT='44444'", 1, "FARM_PORT: must be a whole number, not '44444'"},
		{"FARM_PORT=44444.0", 1, "FARM_PORT: must be a whole number, not 44444.0"},
		{"FARM_PORT=True", 1, "FARM_PORT: must be a whole number, not True"},
		{"FARM_PORT=None", 1, "FARM_PORT: None is not a value of this key; leave the line out for the default (44444)"},
		{"FARM_IF=None", 1, "default ('127.0.0.1')"},
		{"TESTING=1", 1, "TESTING: must be True or False, not 1"},
		{"TESTING='True'", 1, "TESTING: must be True or False, not 'True'"},
		{"FARM_IF=1", 1, "FARM_IF: must be a quoted string, not 1"},
		{"FARM_IF=True", 1, "must be a quoted string, not True"},
		{"ENV=0.5", 1, "ENV: must be a quoted string, not 0.5"},
		{"FARM_PORT=70000", 1, "FARM_PORT: must be from 0 to 65535, not 70000"},
		{"FARM_PORT=65536", 1, "not 65536"},
		{"FARM_PORT=-1", 1, "not -1"},
		{"MAX_BODY_BYTES=0", 1, "MAX_BODY_BYTES: must be from 1"},
		{"LOGGING_LEVEL='VERBOSE'", 1, "LOGGING_LEVEL: must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, not \"VERBOSE\""},
		{"LOGGING_LEVEL=''", 1, "LOGGING_LEVEL: must be one of"},
		{"LOG_FORMAT='xml'", 1, "LOG_FORMAT: must be one of text, json"},
		{"DATASTORE='Mongo'", 1, "DATASTORE: must be one of RAM, SQLite, CouchDB, not \"Mongo\""},
		{"SQLITE_PATH=''", 1, "SQLITE_PATH: must not be empty"},
		{"COUCHDB_URL='couch:5984'", 1, "COUCHDB_URL: must be an http:// or https:// URL"},
		{"COUCHDB_URL=''", 1, "COUCHDB_URL: must be an http"},
		{"FARM_URL='ftp://x'", 1, "FARM_URL: must be an http"},
		{"FARM_URL='http://'", 1, "FARM_URL: must be an http"},
		{"FARM_URL='http://a b'", 1, "FARM_URL: must be an http"},
		// The first bad line stops the reading.
		{"FARM_PORT=1\nFARM_PORT=70000\nFARM_PORT=2", 2, "70000"},
		// A bad value that a later line would replace still fails.
		{"DATASTORE='x'\nDATASTORE='RAM'", 1, "DATASTORE"},
		{"A=1\r\nB=2\r\nC=x\r\n", 3, "C: \"x\" is not a value"},
		// Bytes are not a string, whatever their prefix's spelling.
		{"# c\nFARM_IF=b'127.0.0.1'", 2, "FARM_IF: b'...' is a bytes literal, not a string"},
		{"FARM_IF=u'x'\nSQLITE_PATH=Rb\"farm.db\"", 2, "SQLITE_PATH: Rb\"...\" is a bytes literal"},
	}
	for _, c := range cases {
		cfg, path, err := load(t, c.text, noEnv)
		if err == nil {
			t.Errorf("Load(%q) = %+v, want an error", c.text, cfg)
			continue
		}
		prefix := path + ":" + itoa(c.line) + ": "
		if !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("Load(%q) = %q, want it to start with %q", c.text, err, prefix)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%q) = %q, want it to contain %q", c.text, err, c.want)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// A bad URL's password does not show in the error.
func TestLoadErrorRedactsURL(t *testing.T) {
	_, _, err := load(t, "COUCHDB_URL='ftp://admin:hunter2@couch:5984'", noEnv)
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "admin:***@") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestLoadRepeatedKey(t *testing.T) {
	c, path, err := load(t, "FARM_PORT=1\n# x\nFARM_PORT=2\nX=1\nX='b'\nFARM_PORT=3\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3 {
		t.Errorf("Port = %d, want the last value 3", c.Port)
	}
	if v, _ := c.Value("X"); v != "b" {
		t.Errorf("X = %#v, want the last value 'b'", v)
	}
	want := []string{
		path + ":3: FARM_PORT is set again (first on line 1)",
		path + ":5: X is set again (first on line 4)",
		path + ":6: FARM_PORT is set again (first on line 1)",
		path + ":4: X is not a key farm knows",
	}
	if len(c.Warnings) != len(want) {
		t.Fatalf("Warnings = %q, want %d", c.Warnings, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(c.Warnings[i], w) {
			t.Errorf("warning %d = %q, want %q...", i, c.Warnings[i], w)
		}
	}
}

func TestLoadEnv(t *testing.T) {
	file := "FARM_PORT=1111\nFARM_IF='10.0.0.1'\nTESTING=False\nLOGGING_LEVEL='ERROR'\nEXTRA='file'\nOTHER=5\n"
	c, _, err := load(t, file, env(map[string]string{
		"FARM_PORT":      "44444",
		"FARM_IF":        "127.0.0.1",
		"TESTING":        "True",
		"DEBUG":          "yes",
		"LOGGING_LEVEL":  "debug",
		"DATASTORE":      "ram",
		"MAX_BODY_BYTES": " 2048 ",
		"ENV":            "'quoted'", // plain text: the quotes are part of the value
		"EXTRA":          "from env",
		"NOT_IN_FILE":    "ignored",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 44444 || c.Interface != "127.0.0.1" || !c.Testing || !c.Debug ||
		c.LogLevel != "DEBUG" || c.Datastore != StoreRAM || c.MaxBodyBytes != 2048 || c.Env != "'quoted'" {
		t.Errorf("env did not override the file: %+v", fields(c))
	}
	if v, _ := c.Value("EXTRA"); v != "from env" {
		t.Errorf("EXTRA = %#v, want the environment's value", v)
	}
	if v, _ := c.Value("OTHER"); v != int64(5) {
		t.Errorf("OTHER = %#v, want the file's value", v)
	}
	if _, ok := c.Value("NOT_IN_FILE"); ok {
		t.Error("an environment variable that is neither known nor in the file was taken")
	}
	if v, _ := c.Value("FARM_PORT"); v != int64(44444) {
		t.Errorf("Value(FARM_PORT) = %#v, want int64(44444)", v)
	}
}

func TestLoadEnvBool(t *testing.T) {
	for raw, want := range map[string]bool{
		"True": true, "true": true, "1": true, "yes": true, "ON": true, " on ": true,
		"False": false, "false": false, "0": false, "no": false, "off": false, "": false,
	} {
		t.Chdir(t.TempDir())
		c, err := Load("", env(map[string]string{"TESTING": raw, "DEBUG": raw}))
		if err != nil {
			t.Errorf("TESTING=%q: %v", raw, err)
			continue
		}
		if c.Testing != want || c.Debug != want {
			t.Errorf("TESTING=%q gave %v, want %v", raw, c.Testing, want)
		}
	}
}

func TestLoadEnvErrors(t *testing.T) {
	cases := []struct {
		key, value string
		want       string
	}{
		{"FARM_PORT", "abc", `environment variable FARM_PORT: must be a whole number, not "abc"`},
		{"FARM_PORT", "", "environment variable FARM_PORT: must be a whole number"},
		{"FARM_PORT", "44444.0", "environment variable FARM_PORT"},
		{"FARM_PORT", "'44444'", "environment variable FARM_PORT"},
		{"FARM_PORT", "70000", "environment variable FARM_PORT: must be from 0 to 65535, not 70000"},
		{"MAX_BODY_BYTES", "0", "environment variable MAX_BODY_BYTES"},
		{"TESTING", "maybe", `environment variable TESTING: must be True or False, not "maybe"`},
		{"DEBUG", "2", "environment variable DEBUG"},
		{"LOGGING_LEVEL", "LOUD", "environment variable LOGGING_LEVEL: must be one of"},
		{"DATASTORE", "'RAM'", "environment variable DATASTORE"},
		{"COUCHDB_URL", "couch", "environment variable COUCHDB_URL"},
		{"SQLITE_PATH", "", "environment variable SQLITE_PATH: must not be empty"},
	}
	for _, c := range cases {
		// Both with and without a file.
		t.Chdir(t.TempDir())
		cfg, err := Load("", env(map[string]string{c.key: c.value}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q without a file: %+v, %v; want %q", c.key, c.value, cfg, err, c.want)
		}
		_, _, err = load(t, "FARM_PORT=1\n", env(map[string]string{c.key: c.value}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q with a file: %v; want %q", c.key, c.value, err, c.want)
		}
	}
}

// A bad file value is an error even when the environment would override
// it: the file must be right on its own.
func TestLoadEnvDoesNotHideBadFile(t *testing.T) {
	_, _, err := load(t, "FARM_PORT='x'\n", env(map[string]string{"FARM_PORT": "1"}))
	if err == nil {
		t.Error("want an error for the file's FARM_PORT")
	}
}

func TestValuesRedaction(t *testing.T) {
	file := "" +
		"DB_PASSWORD='hunter2'\n" +
		"password='lower'\n" +
		"API_TOKEN=12345\n" +
		"MY_SECRET=True\n" +
		"SECRET_RATIO=0.5\n" +
		"EMPTY_PASSWORD=''\n" +
		"NO_SECRET=None\n" +
		"APIKEY='k'\n" +
		"PRIVATE_KEY='k'\n" +
		"AWS_CREDENTIALS='k'\n" +
		"COUCHDB_URL='http://admin:hunter2@couch:5984/db'\n" +
		"USER_ONLY='http://admin@couch:5984'\n" +
		"PORT_ONLY='http://couch:5984/a:b@c'\n" +
		"AT_SIGN_URL='https://u:p@ss@host/x'\n" +
		"DB_PASS='hunter2'\n" +
		"OAUTH_CLIENT='abc'\n" +
		"TWO='see http://a:one@h1 and postgres://b:two@h2/db'\n" +
		"PLAIN='just:a@string'\n" +
		"HOST='couch:5984'\n" +
		"WRITE_TOKEN_FILE='/srv/farm/write_token'\n"
	c, _, err := load(t, file, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	vals := c.Values()
	want := map[string]any{
		"DB_PASSWORD":     "***",
		"password":        "***",
		"API_TOKEN":       "***",
		"MY_SECRET":       "***",
		"SECRET_RATIO":    "***",
		"EMPTY_PASSWORD":  "",
		"NO_SECRET":       nil,
		"APIKEY":          "***",
		"PRIVATE_KEY":     "***",
		"AWS_CREDENTIALS": "***",
		"COUCHDB_URL":     "http://admin:***@couch:5984/db",
		"USER_ONLY":       "http://***@couch:5984",
		"PORT_ONLY":       "http://couch:5984/a:b@c",
		"AT_SIGN_URL":     "https://u:***@host/x",
		"DB_PASS":         "***",
		"OAUTH_CLIENT":    "***",
		"TWO":             "see http://a:***@h1 and postgres://b:***@h2/db",
		"PLAIN":           "just:a@string",
		"HOST":            "couch:5984",
		"FARM_PORT":       int64(44444),
		"FARM_IF":         "127.0.0.1",
		"TESTING":         false,
		// A known key whose name names a token: hidden too (the spec).
		"WRITE_TOKEN_FILE": "***",
	}
	for k, w := range want {
		got, ok := vals[k]
		if !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("Values()[%s] = %#v, want %#v", k, got, w)
		}
	}
	// Values does not redact the configuration itself.
	if c.CouchDBURL != "http://admin:hunter2@couch:5984/db" {
		t.Errorf("CouchDBURL = %q, want the real URL", c.CouchDBURL)
	}
	if v, _ := c.Value("DB_PASSWORD"); v != "hunter2" {
		t.Errorf("Value(DB_PASSWORD) = %#v, want the real value", v)
	}
	if c.WriteTokenFile != "/srv/farm/write_token" {
		t.Errorf("WriteTokenFile = %q, want the real path", c.WriteTokenFile)
	}
	// Values is a copy.
	vals["FARM_PORT"] = "changed"
	if v, _ := c.Value("FARM_PORT"); v != int64(44444) {
		t.Error("changing the map of Values changed the configuration")
	}
	// Nothing secret survives into the JSON of _config.
	b, err := json.Marshal(c.Values())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hunter2", "lower", "12345", "one@", "two@", ":p@", "write_token"} {
		if strings.Contains(string(b), s) {
			t.Errorf("_config JSON %s shows %q", b, s)
		}
	}
}

// ScriptValue, for farm config --get: farm's own keys as they are but for
// the passwords in URLs (scripts/stack.sh reads WRITE_TOKEN_FILE's path),
// other keys as Values shows them.
func TestScriptValue(t *testing.T) {
	c, _, err := load(t, "WRITE_TOKEN_FILE='/srv/farm/write_token'\n"+
		"COUCHDB_URL='http://admin:hunter2@couch:5984/db'\n"+
		"DB_PASSWORD='hunter2'\nAPI_TOKEN=12345\nREMOTE='http://u:hunter2@h'\nRATIO=0.5\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for k, w := range map[string]any{
		"WRITE_TOKEN_FILE": "/srv/farm/write_token",
		"COUCHDB_URL":      "http://admin:***@couch:5984/db",
		"DB_PASSWORD":      "***",
		"API_TOKEN":        "***",
		"REMOTE":           "http://u:***@h",
		"RATIO":            0.5,
		"FARM_PORT":        int64(44444),
		"DATASTORE":        "SQLite",
	} {
		if got, ok := c.ScriptValue(k); !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("ScriptValue(%s) = %#v, %v; want %#v", k, got, ok, w)
		}
	}
	if v, ok := c.ScriptValue("MISSING"); ok {
		t.Errorf("ScriptValue(MISSING) = %#v, true", v)
	}
}

func TestClientURL(t *testing.T) {
	cases := []struct {
		iface string
		port  int
		url   string
		want  string
	}{
		{"127.0.0.1", 44444, "", "http://127.0.0.1:44444"},
		{"0.0.0.0", 44444, "", "http://127.0.0.1:44444"},
		{"", 8080, "", "http://127.0.0.1:8080"},
		{"::", 1, "", "http://127.0.0.1:1"},
		{"[::]", 1, "", "http://127.0.0.1:1"},
		{"::1", 44444, "", "http://[::1]:44444"},
		{"[::1]", 44444, "", "http://[::1]:44444"},
		{"fe80::1", 80, "", "http://[fe80::1]:80"},
		{"farm.example.com", 443, "", "http://farm.example.com:443"},
		{"0.0.0.0", 44444, "https://farm.example.com", "https://farm.example.com"},
		{"0.0.0.0", 44444, "https://farm.example.com/base//", "https://farm.example.com/base"},
	}
	for _, c := range cases {
		cfg := &Config{Interface: c.iface, Port: c.port, URL: c.url}
		if got := cfg.ClientURL(); got != c.want {
			t.Errorf("ClientURL(%q, %d, %q) = %q, want %q", c.iface, c.port, c.url, got, c.want)
		}
	}
	// Through Load, from a file and from the environment.
	c, _, err := load(t, "FARM_IF='0.0.0.0'\nFARM_PORT=8080\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ClientURL(); got != "http://127.0.0.1:8080" {
		t.Errorf("ClientURL = %q", got)
	}
	c, _, err = load(t, "FARM_IF='::1'\nFARM_PORT=8080\n", env(map[string]string{"FARM_URL": "http://farm:1/"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ClientURL(); got != "http://farm:1" {
		t.Errorf("ClientURL = %q, want FARM_URL's", got)
	}
}

func TestKeys(t *testing.T) {
	keys := Keys()
	var names []string
	for _, k := range keys {
		names = append(names, k.Key)
		if k.Doc == "" {
			t.Errorf("key %s has no doc", k.Key)
		}
		if specFor(k.Key) == nil {
			t.Errorf("Keys lists %s, which specFor does not know", k.Key)
		}
	}
	for _, want := range []string{"FARM_IF", "FARM_PORT", "LOGGING_LEVEL", "DATASTORE", "COUCHDB_URL", "ENV", "TESTING", "DEBUG"} {
		if !slices.Contains(names, want) {
			t.Errorf("Keys lacks %s, which the spec names", want)
		}
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(names) {
		t.Errorf("Keys repeats a key: %q", names)
	}
	ident := regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	for _, n := range names {
		if !ident.MatchString(n) {
			t.Errorf("key %q is not an upper-case identifier", n)
		}
	}
	// Every default passes its own key's check.
	for _, s := range specs {
		if _, err := s.accept(&Config{}, s.def); err != nil {
			t.Errorf("the default of %s is refused: %v", s.key, err)
		}
	}
}

func TestPyRepr(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{nil, "None"},
		{true, "True"},
		{false, "False"},
		{"x", "'x'"},
		{int64(-5), "-5"},
		{0.5, "0.5"},
		{44444.0, "44444.0"},
		{1e20, "1e+20"},
		{math.Copysign(0, -1), "-0.0"},
	}
	for _, c := range cases {
		if got := pyRepr(c.v); got != c.want {
			t.Errorf("pyRepr(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}
