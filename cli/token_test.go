package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cliToken = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

// A farm with WRITE_TOKEN_FILE: the CLI sends the token of the same
// configuration (or FARM_TOKEN), shows it nowhere, and a write without it
// fails with 401; _config shows neither the token nor its file.
func TestWriteToken(t *testing.T) {
	dir := t.TempDir()
	tf := filepath.Join(dir, "write_token")
	os.WriteFile(tf, []byte("# farm's writers\n"+cliToken+"\n"), 0o600)
	s := startServer(t, dir, "DATASTORE='RAM'", "WRITE_TOKEN_FILE='"+tf+"'", "LOGGING_LEVEL='DEBUG'")
	c := s.cfg

	r := farm(t, "-c", c, "-v", "post", "/api/v1/animal", `{"id": "t1", "species": "cow", "sex": "male"}`).ok(t)
	if !strings.Contains(r.stderr, "> Authorization: Bearer ***") || strings.Contains(r.stdout+r.stderr, cliToken[:12]) {
		t.Errorf("-v post:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	farm(t, "-c", c, "animal", "new", `{"species": "chicken", "sex": "female"}`).ok(t)
	farm(t, "-c", c, "animal", "del", "t1").ok(t)

	// Without the token, or with another: 401, and the message says
	// where the CLI takes its token from.
	other := writeConfig(t, t.TempDir(), "FARM_URL='"+s.url+"'")
	farm(t, "-c", other, "post", "/api/v1/animal", `{"id": "t2", "species": "cow", "sex": "male"}`).fails(t, 4, "FARM_TOKEN")
	farmIn(t, "", []string{"FARM_TOKEN=" + strings.Repeat("f", 40)}, "-c", c, "delete", "/api/v1/animal/x").fails(t, 4, "401")
	r = farmIn(t, "", []string{"FARM_TOKEN=" + cliToken}, "-c", other, "post", "/api/v1/animal", `{"id": "t2", "species": "cow", "sex": "male"}`).ok(t)
	// Reads need nothing.
	farm(t, "-c", other, "get", "/api/v1/animal/t2").ok(t)

	// The token is in no answer and no log line; _config hides even the
	// file's path, as the value of a key that names a token.
	_, _, cfg := get(t, s.url+"/api/v1/_config")
	if !strings.Contains(string(cfg), `"WRITE_TOKEN_FILE":"***"`) || strings.Contains(string(cfg), tf) || strings.Contains(string(cfg), cliToken[:12]) {
		t.Errorf("_config: %s", cfg)
	}
	if r := farm(t, "-c", c, "config"); strings.Contains(r.stdout+r.stderr, cliToken[:12]) || strings.Contains(r.stdout, tf) {
		t.Errorf("farm config shows the token or its file: %s", r.stdout)
	}
	if log := s.stderr.String(); strings.Contains(log, cliToken[:12]) || !strings.Contains(log, "writes need a token") {
		t.Errorf("server log:\n%s", log)
	}
}

// A farm told to protect its writes does not start with them open.
func TestStartRefusesABadTokenFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"missing": "", "empty": "\n", "short": "abc\n"} {
		path := filepath.Join(dir, name)
		if name != "missing" {
			os.WriteFile(path, []byte(content), 0o600)
		}
		cfg := writeConfig(t, t.TempDir(), "DATASTORE='RAM'", "FARM_PORT=0", "WRITE_TOKEN_FILE='"+path+"'")
		r := farmProc(t, "", nil, "-c", cfg, "start")
		if r.code == 0 || !strings.Contains(r.stderr, "WRITE_TOKEN_FILE") || strings.Contains(r.stderr, "abc") {
			t.Errorf("%s token file: exit %d, stderr %s", name, r.code, r.stderr)
		}
	}
}

// _config, through a running farm, hides every value whose key or URL
// holds a secret, however it is spelled.
func TestConfigHidesSecrets(t *testing.T) {
	secrets := map[string]string{
		"DB_PWD": "pwd-secret-1", "SESSION_KEY": "sess-secret-2", "SIGNING_KEY": "sign-secret-3",
		"SMTP_PW": "smtp-secret-4", "HMAC": "hmac-secret-5", "API_TOKEN": "tok-secret-6",
		"COOKIE_SALT": "cookie-secret-7", "TLS_PRIVATE": "priv-secret-8", "CLIENT_CERT": "cert-secret-9",
		"MAIL_URL": "http://apitoken123-secret@mail.example/?token=qs-secret-10&x=1",
	}
	lines := []string{"DATASTORE='RAM'", "COUCHDB_URL='http://admin:couch-secret-11@db:5984/farm?password=qs-secret-12'"}
	for k, v := range secrets {
		lines = append(lines, k+"='"+v+"'")
	}
	s := startServer(t, t.TempDir(), lines...)
	_, _, body := get(t, s.url+"/api/v1/_config")
	if strings.Contains(string(body), "secret") {
		t.Errorf("_config shows a secret: %s", body)
	}
	for _, want := range []string{`"DB_PWD":"***"`, `"HMAC":"***"`, `"COUCHDB_URL":"http://admin:***@db:5984/farm?password=***"`,
		`"MAIL_URL":"http://***@mail.example/?token=***\u0026x=1"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("_config lacks %s: %s", want, body)
		}
	}
	if r := farm(t, "-c", s.cfg, "config"); strings.Contains(r.stdout+r.stderr, "secret") {
		t.Errorf("farm config shows a secret: %s", r.stdout)
	}
}
