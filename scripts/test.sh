#!/usr/bin/env bash
# Run the whole test suite, installing what it needs first. The tests
# start the real components they use themselves.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ensure_go
cd "$ROOT"

# Real components the tests run: Prometheus and promtool, NGINX.
apt_install prometheus nginx

say "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || die "not gofmt-formatted: $unformatted"
say "== go vet"
go vet ./...
say "== go test -race"
go test -race -count=1 -timeout 30m ./... "$@"
