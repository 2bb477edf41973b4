#!/usr/bin/env bash
# Run the whole test suite, installing what it needs first. The tests
# start the real components they use themselves.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ensure_go
cd "$ROOT"

# Real components the tests run: Prometheus and promtool, NGINX, Chromium
# (the web page's test), and a CouchDB-compatible server (express-pouchdb
# on Node.js, from npm).
apt_install prometheus nginx chromium
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
say "== npm ci (the CouchDB test server)"
npm ci --prefix internal/testbed/pouchdb --no-audit --no-fund --loglevel=error

say "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || die "not gofmt-formatted: $unformatted"
say "== go vet"
go vet ./...
say "== go test -race"
go test -race -count=1 -timeout 30m ./... "$@"
