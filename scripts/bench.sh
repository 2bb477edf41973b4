#!/usr/bin/env bash
# Measure farm's throughput on each production path, in one run, on this
# machine: direct HTTP to one farm, NGINX with uwsgi to the instances, and
# NGINX with HTTP over unix sockets (kept-alive) to the same instances.
# Needs wrk (apt-get install wrk). Prints a Markdown table for
# docs/benchmarks.md.
#
#   scripts/bench.sh [DURATION] [CONNECTIONS]     defaults: 10s 32
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
duration=${1:-10s}
conns=${2:-32}
apt_install wrk nginx bc
build_farm

work=$(mktemp -d /tmp/farm-bench.XXXXXX)
chmod 755 "$work"
trap 'cleanup' EXIT
cleanup() {
  set +e
  (cd "$work/stack" && ./farm_stop.sh >/dev/null 2>&1)
  [ -n "${direct:-}" ] && kill "$direct" 2>/dev/null && wait "$direct" 2>/dev/null
  [ -n "${nginx2:-}" ] && kill -QUIT "$(cat "$work/stack/logs/nginx_http.pid")" 2>/dev/null
  rm -rf "$work"
}

# A copy of the deployment, so this never touches logs/ here.
mkdir -p "$work/stack/logs" "$work/sock"
chmod 755 "$work/sock"
cp -r farm_start.sh farm_stop.sh scripts conf static "$work/stack/"
cp bin/farm "$work/farm"
export FARM_BIN="$work/farm" FARM_SOCKET_DIR="$work/sock" FARM_INSTANCES=2
export FARM_PORT_NGINX=48441 FARM_METRICS_PORT=48400
(cd "$work/stack" && ./farm_start.sh >/dev/null)

# A second NGINX, on the same instances, through their HTTP sockets.
(cd "$work/stack" && FARM_TRANSPORT=http FARM_PORT_NGINX=48442 bash -c '
  . scripts/stack.sh; stack_init; LOGS=logs; write_nginx_conf
  sed -i "s#logs/nginx.pid#logs/nginx_http.pid#; s#logs/nginx_access.log#logs/nginx_http_access.log#" logs/nginx.conf
  mv logs/nginx.conf logs/nginx_http.conf
  "$NGINX" -p "$PWD" -e logs/nginx_http_error.log -c logs/nginx_http.conf')
nginx2=yes
# Direct HTTP: one more farm on the same database.
(cd "$work/stack" && FARM_PORT=48443 FARM_IF=127.0.0.1 UWSGI_SOCKET= HTTP_SOCKET= METRICS_ADDR= \
  exec "$FARM_BIN" -c conf/farm_uwsgi.cfg start >"$work/direct.log" 2>&1) &
direct=$!
for port in 48441 48442 48443; do
  for _ in $(seq 100); do "$FARM_BIN" get "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
done
"$FARM_BIN" post http://127.0.0.1:48443/api/v1/animal '{"id": "bench", "species": "cow", "sex": "female", "name": "Bench"}' >/dev/null
for i in $(seq 1 50); do
  "$FARM_BIN" post http://127.0.0.1:48443/api/v1/animal "{\"id\": \"b$i\", \"species\": \"chicken\", \"sex\": \"male\"}" >/dev/null
done

rps() { # url -> requests/s
  wrk -t2 -c"$conns" -d"$duration" "$1" | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "ERRORS " $0 > "/dev/stderr"}'
}
printf 'machine: %s cores, %s, %s; wrk -t2 -c%s -d%s\n\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(uname -sr)" "$conns" "$duration"
printf '| path | GET one record (req/s) | GET a page of 10 (req/s) |\n|---|---|---|\n'
base_one=""; base_list=""
for p in "direct HTTP to one farm:48443" "NGINX, uwsgi on unix sockets, 2 instances:48441" "NGINX, HTTP on unix sockets (keepalive), 2 instances:48442"; do
  name=${p%:*}; port=${p##*:}
  one=$(rps "http://127.0.0.1:$port/api/v1/animal/bench")
  list=$(rps "http://127.0.0.1:$port/api/v1/animal?per_page=10&page=2")
  [ -n "$base_one" ] || { base_one=$one; base_list=$list; }
  printf '| %s | %s (%.2f×) | %s (%.2f×) |\n' "$name" "$one" "$(echo "$one / $base_one" | bc -l)" "$list" "$(echo "$list / $base_list" | bc -l)"
done
