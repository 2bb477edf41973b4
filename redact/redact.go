// Package redact hides secrets in what farm shows: the configuration at
// /api/v1/_config and `farm config`, error messages about configuration
// lines, and the URLs the command line prints. It is the one place that
// decides what a secret looks like.
package redact

import (
	"regexp"
	"strings"
)

// Mask stands for a hidden value.
const Mask = "***"

// secretWords are the parts of a name that make it a secret's: passwords
// (PASS, PWD, PW), secrets, tokens, keys, credentials, signing and session
// material, cookies, private keys and certificates.
var secretWords = []string{
	"PASS", "PWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH", "HMAC",
	"SIGNING", "SESSION", "COOKIE", "PRIVATE", "CERT",
}

// Key reports whether a configuration key (or a URL's query parameter)
// names a secret. It errs on the side of hiding: MONKEY is a secret too.
func Key(name string) bool {
	up := strings.ToUpper(name)
	for _, w := range secretWords {
		if strings.Contains(up, w) {
			return true
		}
	}
	// PW alone is too short to look for inside words: as a part of the
	// name (SMTP_PW, PW_HASH, pw).
	for _, part := range strings.FieldsFunc(up, func(r rune) bool { return r < 'A' || r > 'Z' }) {
		if part == "PW" {
			return true
		}
	}
	return false
}

// Value hides a value: the whole of it when key names a secret (an empty
// value shows that nothing is set), else the secrets of the URLs in it.
func Value(key, value string) string {
	if Key(key) {
		if value == "" {
			return ""
		}
		return Mask
	}
	return URLs(value)
}

var urlRe = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s]*`)

// URLs hides the secrets of every URL in s: the user information (a
// password after the user name, or a lone user name, which is often a
// token) and the values of query parameters whose names name a secret.
// As the spec's example has it, http://admin:secret@host keeps the user:
// http://admin:***@host.
func URLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlRe.ReplaceAllStringFunc(s, url)
}

func url(u string) string {
	i := strings.Index(u, "://") + 3
	end := len(u)
	if j := strings.IndexAny(u[i:], "/?#"); j >= 0 {
		end = i + j
	}
	authority := u[i:end]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		user, _, hasPass := strings.Cut(authority[:at], ":")
		hidden := Mask
		if hasPass {
			hidden = user + ":" + Mask
		}
		u = u[:i] + hidden + u[i+at:]
		end = i + len(hidden) + len(authority) - at
	}
	q := strings.IndexByte(u[end:], '?')
	if q < 0 {
		return u
	}
	q += end + 1
	qend := len(u)
	if h := strings.IndexByte(u[q:], '#'); h >= 0 {
		qend = q + h
	}
	params := strings.Split(u[q:qend], "&")
	for n, p := range params {
		if k, _, ok := strings.Cut(p, "="); ok && Key(k) {
			params[n] = k + "=" + Mask
		}
	}
	return u[:q] + strings.Join(params, "&") + u[qend:]
}
