# Shared by the scripts: find the project, make sure Go is there, install
# Debian packages that are missing. Source it; do not run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO_WANT=1.26

say() { printf '%s\n' "$*" >&2; }

# usage prints the running script's opening comment, to its end: its help.
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
die() { say "error: $*"; exit 1; }

# as_root runs a command as root, through sudo when needed.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

# apt_install installs the Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
  say "installing ${missing[*]} ..."
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_go makes a Go of at least GO_WANT available. A Go of 1.21 or newer
# fetches the wanted toolchain from the Go module proxy by itself.
ensure_go() {
  export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
  if ! command -v go >/dev/null; then
    apt_install golang-go ca-certificates
  fi
  command -v go >/dev/null || die "Go is not installed; see https://go.dev/doc/install (Go $GO_WANT or newer)"
  local v minor
  v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  minor=$(printf '%s' "$v" | cut -d. -f2)
  if [ -z "$v" ] || [ "$(printf '%s' "$v" | cut -d. -f1)" -lt 1 ] || [ "${minor:-0}" -lt 21 ]; then
    die "Go $v is too old to fetch Go $GO_WANT by itself; install Go $GO_WANT or newer (https://go.dev/doc/install)"
  fi
  if [ "${minor:-0}" -lt "${GO_WANT#1.}" ]; then
    export GOTOOLCHAIN=go1.26.8 # fetched from the Go module proxy
  fi
}

# version is the release date of the checkout: the day of its last commit
# (UTC), or today when it is not a git checkout.
version() {
  local d
  d=$(cd "$ROOT" && TZ=UTC git log -1 --format=%cd --date=format-local:%Y.%m.%d 2>/dev/null) || true
  [ -n "$d" ] || d=$(date -u +%Y.%m.%d)
  printf '%s' "$d"
}

revision() {
  (cd "$ROOT" && git rev-parse --short=12 HEAD 2>/dev/null) || true
}

# build_farm builds bin/farm with the version stamped in.
build_farm() {
  ensure_go
  local pkg=github.com/farmhq/farm
  # The first build downloads the modules (and maybe a Go toolchain):
  # a minute or two of silence otherwise.
  [ -x "$ROOT/bin/farm" ] || say "building bin/farm (the first time, Go downloads what it needs: a minute or two) ..."
  (cd "$ROOT" && go build -trimpath -o bin/farm \
    -ldflags "-X $pkg.version=$(version) -X $pkg.revision=$(revision)" ./cmd/farm)
}
