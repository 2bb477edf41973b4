package redact

import "testing"

func TestKey(t *testing.T) {
	secret := []string{
		"DB_PASSWORD", "password", "FARM_PASSWD", "DB_PWD", "SMTP_PW", "pw", "PW_HASH",
		"API_TOKEN", "GITHUB_TOKEN", "WRITE_TOKEN", "MY_SECRET", "Client_Secret", "API_KEY", "APIKEY",
		"SESSION_KEY", "SIGNING_KEY", "PRIVATE_KEY", "HMAC", "hmac_salt", "AWS_CREDENTIALS",
		"OAUTH_CLIENT", "SESSION", "COOKIE_SALT", "TLS_CERT", "CERTIFICATE", "signing",
	}
	for _, k := range secret {
		if !Key(k) {
			t.Errorf("Key(%q) = false, want true", k)
		}
	}
	plain := []string{"FARM_PORT", "FARM_IF", "COUCHDB_URL", "SQLITE_PATH", "UWSGI_SOCKET", "HOST", "UPWARD", "SPW", "PATH", "ENV", "DEBUG"}
	for _, k := range plain {
		if Key(k) {
			t.Errorf("Key(%q) = true, want false", k)
		}
	}
}

func TestValue(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"COUCHDB_URL", "http://admin:secret@host:5984", "http://admin:***@host:5984"},
		{"X", "HTTPS://admin:secret@host", "HTTPS://admin:***@host"},
		{"X", "http://:secret@host", "http://:***@host"},
		{"X", "http://admin@host:5984", "http://***@host:5984"},
		{"X", "http://apitoken123@host", "http://***@host"},
		{"X", "http://host:5984", "http://host:5984"},
		{"X", "http://host:5984/path?q=a:b@c", "http://host:5984/path?q=a:b@c"},
		{"X", "http://host/#a:b@c", "http://host/#a:b@c"},
		{"X", "http://host/db?token=abc&x=1", "http://host/db?token=***&x=1"},
		{"X", "http://host/db?x=1&api_key=abc#frag", "http://host/db?x=1&api_key=***#frag"},
		{"X", "http://u:p@host/db?password=p&sessionid=s", "http://u:***@host/db?password=***&sessionid=***"},
		{"X", "redis://u:p%40ss@host", "redis://u:***@host"},
		{"X", "https://u:p@ss@host/x", "https://u:***@host/x"},
		{"X", "see http://a:one@h1 and postgres://b:two@h2/db", "see http://a:***@h1 and postgres://b:***@h2/db"},
		{"X", "", ""},
		{"X", "no url here", "no url here"},
		{"X", "just:a@string", "just:a@string"},
		{"FARM_PASSWORD", "x", "***"},
		{"FARM_PASSWORD", "", ""},
		{"PASSWORD_URL", "http://a:b@c", "***"},
	}
	for _, c := range cases {
		if got := Value(c.key, c.value); got != c.want {
			t.Errorf("Value(%q, %q) = %q, want %q", c.key, c.value, got, c.want)
		}
	}
}

func FuzzURLs(f *testing.F) {
	for _, s := range []string{"http://a:b@c/d?token=x#y", "x://@", "a://b?c", "http://@?#", "s3://k:s@b/p?x=&token"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = URLs(s) // never panics
	})
}
