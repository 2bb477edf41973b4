package http

import (
	"net/http"
	"strings"

	"github.com/farmhq/farm"
)

// Writers decides who may write: token.File, from WRITE_TOKEN_FILE.
type Writers interface {
	// Allows reports whether a bearer token may write.
	Allows(token string) bool
}

// writersOnly lets a write through only with a bearer token that writers
// allow, before its body is read; with no writers, every write goes.
// Reads never pass here: they stay open.
func writersOnly(writers Writers) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if writers == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			presented, ok := bearer(r.Header.Get("Authorization"))
			switch {
			case !ok:
				w.Header().Set("WWW-Authenticate", `Bearer realm="farm"`)
				fail(w, r, nil, farm.Errorf(farm.EUNAUTHORIZED, "writes need a token: send Authorization: Bearer <token> (see WRITE_TOKEN_FILE)"))
			case !writers.Allows(presented):
				w.Header().Set("WWW-Authenticate", `Bearer realm="farm", error="invalid_token"`)
				fail(w, r, nil, farm.Errorf(farm.EUNAUTHORIZED, "the write token is not valid"))
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// bearer is the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, t, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	t = strings.TrimSpace(t)
	return t, t != ""
}
