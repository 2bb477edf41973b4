#!/usr/bin/env bash
# Measure farm against this machine's ceilings, in one run, and print one
# table of ratios (Markdown, for docs/benchmarks.md).
#
#   scripts/bench.sh [-d DURATION] [-r ROUNDS] [-n RECORDS] [-f] [-o FILE]
#       -d  length of each measurement (default 5s)
#       -r  rounds: each measurement is taken this many times, ceilings
#           and farm in turn, and the median kept (default 3; the change
#           feed's POST three times a round, in pairs)
#       -n  records of the large collection (default 1000000; 0: skip it)
#       -f  only the change feed's cost (below)
#       -o  also write the table to FILE
#
# Ceilings: a bare net/http server answering a constant JSON body; NGINX
# answering by itself; a bare uwsgi responder and a bare net/http server on
# unix sockets, each behind farm's own generated NGINX configuration (the
# same file, its upstream sockets swapped) and behind a minimal one; the
# disk's rate of one O_DSYNC 4 KiB write at a time. farm: one instance on
# HTTP directly, and the production stack (farm_start.sh, 2 instances, the
# default SQLite store) through NGINX on each transport: GET _about, GET
# animal/{id}, a page of 100 whole records, POST, PATCH with If-Match, and
# a 90/10 read/write mix. Each stack's POST is compared with one instance
# alone, direct, measured right before it: a twin of the direct instance
# with a database of its own, which takes only those POSTs (the disk's
# pace drifts by a third within minutes; the direct instance's own POST is
# a minute or more away). Then two instances writing one database (24
# connections on the writer, 8 on the other, once a round), and one
# instance of two frozen (SIGSTOP) for 10 s under GET load through NGINX,
# both measured by internal/bench/load, which records every request's
# latency. Last, a large collection (a million records, half of them
# named "hen"): farm import and export of it, farm's start-up on it and
# its memory under load, and the cost of reading and listing it (by id,
# by next link, with filters, deep pages) against the same on a thousand
# records. And the change feed's cost on the direct instance: 1000 idle
# streams (its memory, and GET animal/{id} with them open), and POST with
# 10 streams following every write, each against the same without.
#
# Everything runs at once, idle but for what is measured, so that ceilings
# and farm share one machine state; the rounds interleave them, so that a
# machine that drifts moves both. Load: wrk, 1 thread, 32 connections. The
# ceiling programs and wrk scripts are in internal/bench/. Needs wrk and
# nginx (installed when missing). Not part of the test suite: run it on a
# quiet machine.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
duration=5s rounds=3 out="" big=1000000 only_feed=0
while getopts d:r:n:o:fh opt; do
  case $opt in
    d) duration=$OPTARG ;;
    r) rounds=$OPTARG ;;
    n) big=$OPTARG ;;
    f) only_feed=1 big=0 ;;
    o) out=$OPTARG ;;
    *) usage; exit 0 ;;
  esac
done
conns=32
apt_install wrk nginx time
build_farm

work=$(mktemp -d /tmp/farm-bench.XXXXXX)
chmod 755 "$work"
# The write token of every farm here (conf/farm_uwsgi.cfg names a token
# file); seed, load and wrk send it.
export FARM_TOKEN
FARM_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
pids=()
nginxes=()
stacks=()
cleanup() {
  set +e
  for n in "${nginxes[@]}"; do "$NGINX" -p "${n%%|*}" -c "${n#*|}" -s stop 2>/dev/null; done
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
  for s in "${stacks[@]}"; do (cd "$s" && ./farm_stop.sh >/dev/null 2>&1); done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/ceiling" ./internal/bench/ceiling
go build -o "$work/seed" ./internal/bench/seed
go build -o "$work/load" ./internal/bench/load
go build -o "$work/streams" ./internal/bench/streams
cp bin/farm "$work/farm"
FARM="$work/farm"
LUA=$PWD/internal/bench/wrk
mkdir -p "$work/ceil" "$work/logs" "$work/tmp" "$work/results" "$work/data"
chmod 755 "$work/ceil"
export FARM_BIN="$FARM"

# wait_up URL: until it answers.
wait_up() {
  for _ in $(seq 200); do
    "$FARM" get "$1" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  die "$1 does not answer"
}

# run NAME URL [wrk arguments...]: runs wrk once, appends "rps p99ms
# errors" to $work/results/NAME.
run() {
  local name=$1 url=$2
  shift 2
  wrk -t1 -c"$conns" -d"$duration" --latency -H "Authorization: Bearer $FARM_TOKEN" "$url" "$@" >"$work/results/$name.out" 2>&1 || true
  awk '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /s$/) return v * 1000
      return v
    }
    /^ +99%/ { p99 = ms($2) }
    /Requests\/sec/ { rps = $2 }
    /Non-2xx/ { errors += $NF }
    /Socket errors/ { for (i = 3; i <= NF; i++) { gsub(",", "", $i); if ($i ~ /^[0-9]+$/) errors += $i } }
    END { printf "%.0f %.2f %d\n", rps, p99, errors }
  ' "$work/results/$name.out" >>"$work/results/$name"
  say "  $name: $(tail -n1 "$work/results/$name") (req/s, p99 ms, errors)"
  grep -E "Socket errors|Non-2xx" "$work/results/$name.out" | sed 's/^ */    wrk: /' >&2 || true
}
stop_pids() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

# exact NAME [load arguments...]: one run of internal/bench/load, which
# records every request's latency (wrk's histogram misreports a tail of a
# few very slow requests), appended to $work/results/NAME like run's.
exact() {
  local name=$1
  shift
  "$work/load" "$@" >"$work/results/$name.out" 2>&1 || true
  head -n1 "$work/results/$name.out" | cut -d' ' -f1-3 >>"$work/results/$name"
  say "  $name: $(head -n1 "$work/results/$name.out")"
}
# val NAME [FIELD]: the median of its runs (field 1: req/s, 2: p99, 3: errors).
val() { cut -d' ' -f"${2:-1}" "$work/results/$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# nginx_run NAME CONF: an NGINX on the configuration text CONF.
nginx_run() {
  local conf="$work/$1.conf"
  printf '%s\n' "$2" >"$conf"
  "$NGINX" -p "$work" -e "$work/logs/$1.error.log" -c "$conf"
  nginxes+=("$work|$conf")
}

# minimal PORT NAME uwsgi|http: the least NGINX configuration that passes
# requests to the two ceiling sockets of the transport.
minimal() {
  local up pass
  if [ "$3" = uwsgi ]; then
    up="server unix:$work/ceil/farm_1.socket; server unix:$work/ceil/farm_2.socket;"
    pass="include /etc/nginx/uwsgi_params; uwsgi_pass up;"
  else
    up="server unix:$work/ceil/farm_http_1.socket; server unix:$work/ceil/farm_http_2.socket; keepalive 64;"
    pass='proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";'
  fi
  nginx_run "$2" "pid $work/logs/$2.pid; events {}
http { access_log off; client_body_temp_path tmp; proxy_temp_path tmp; uwsgi_temp_path tmp;
  upstream up { $up }
  server { listen 127.0.0.1:$1; location / { $pass } } }"
}

# deployment NAME: a copy of the deployment, so that this never touches
# logs/ or data/ here, with a database of its own ($work/data/NAME.db: a
# stack's 2 instances share theirs, as in production, and no other process
# writes it) and the write token every request carries (writes need it;
# the rest carry it too, alike).
deployment() {
  local d="$work/$1"
  mkdir -p "$d/data/production"
  cp -r farm_start.sh farm_stop.sh scripts conf static "$d/"
  (umask 077 && echo "$FARM_TOKEN" >"$d/data/production/write_token")
  sed -i "s#^SQLITE_PATH = .*#SQLITE_PATH = '$work/data/$1.db'#" "$d/conf/farm_uwsgi.cfg"
  printf '%s' "$d"
}

say "== starting the ceilings, NGINX configurations and farm"
"$work/ceiling" dsync "$work/data" 3s >"$work/results/dsync"
say "  disk: $(cat "$work/results/dsync") O_DSYNC 4 KiB writes/s"
"$work/ceiling" http 127.0.0.1:21501 & pids+=($!)
# The ceilings behind NGINX run as the stack's instances do (scripts/
# stack.sh): with the Go runtime's monitor thread kept from parking, and
# under SCHED_BATCH, so that farm meets them like for like. Measured: the
# runtime setting raised the bare uwsgi responder by a third; the batch
# policy raised the bare net/http server 1-5%.
GODEBUG=schedtrace=2147483647 chrt --batch 0 "$work/ceiling" uwsgi "$work/ceil/farm_1.socket" "$work/ceil/farm_2.socket" & pids+=($!)
GODEBUG=schedtrace=2147483647 chrt --batch 0 "$work/ceiling" http-unix "$work/ceil/farm_http_1.socket" "$work/ceil/farm_http_2.socket" & pids+=($!)
nginx_run nginx_alone "pid $work/logs/nginx_alone.pid; events {}
http { access_log off; server { listen 127.0.0.1:21502;
  location / { default_type application/json; return 200 '{\"name\":\"farm\",\"version\":\"2026.12.02\"}'; } } }"
minimal 21503 min_uwsgi uwsgi
minimal 21504 min_http http
# farm's own configuration, as farm_start.sh writes it, on the ceilings'
# sockets (its writes upstream too, which the GETs measured here do not
# use).
ceilstack=$(deployment ceilstack)
for t in uwsgi:21505 http:21506; do
  (cd "$ceilstack" && FARM_DATASTORE=SQLite FARM_TRANSPORT=${t%:*} FARM_PORT_NGINX=${t#*:} FARM_SOCKET_DIR="$work/ceil" bash -c '
    . scripts/stack.sh; stack_init; write_nginx_conf') >/dev/null
  sed "s#logs/nginx\([_.a-z]*\)#logs/farmconf_${t%:*}\1#g" "$ceilstack/logs/nginx.conf" >"$work/farmconf_${t%:*}.conf"
  mkdir -p "$ceilstack/logs/farmconf_${t%:*}_tmp"
  "$NGINX" -p "$ceilstack" -e "$ceilstack/logs/farmconf.error.log" -c "$work/farmconf_${t%:*}.conf"
  nginxes+=("$ceilstack|$work/farmconf_${t%:*}.conf")
done
# farm directly: one instance, HTTP on TCP, the production configuration.
direct=$(deployment direct)
(cd "$direct" && FARM_PORT=21510 FARM_IF=127.0.0.1 UWSGI_SOCKET= HTTP_SOCKET= METRICS_ADDR=127.0.0.1:21511 \
  exec "$FARM" -c conf/farm_uwsgi.cfg start >"$work/logs/direct.log" 2>&1) & pids+=($!)
direct_pid=$!
wait_up http://127.0.0.1:21511/readyz
# Its twins, one a stack: one instance alone, direct, each with a database
# of its own, whose POST is measured right before the stack's.
for x in uwsgi:21512 http:21514; do
  (cd "$direct" && SQLITE_PATH="$work/data/twin_${x%:*}.db" FARM_PORT=${x#*:} FARM_IF=127.0.0.1 UWSGI_SOCKET= HTTP_SOCKET= \
    METRICS_ADDR=127.0.0.1:$((${x#*:} + 1)) exec "$FARM" -c conf/farm_uwsgi.cfg start >"$work/logs/twin_${x%:*}.log" 2>&1) & pids+=($!)
  wait_up "http://127.0.0.1:$((${x#*:} + 1))/readyz"
done
# The production stacks, one a transport.
for t in uwsgi:21520:21600 http:21521:21610; do
  s=$(deployment "stack_${t%%:*}")
  (cd "$s" && FARM_TRANSPORT=${t%%:*} FARM_PORT_NGINX=$(cut -d: -f2 <<<"$t") FARM_METRICS_PORT=${t##*:} \
    FARM_SOCKET_DIR="$work/sock_${t%%:*}" ./farm_start.sh >/dev/null)
  stacks+=("$s")
done
wait_up http://127.0.0.1:21505/api/v1/_about
wait_up http://127.0.0.1:21506/api/v1/_about
for port in 21510 21512 21514 21520 21521; do "$work/seed" "http://127.0.0.1:$port" bench 1000; done

ceiling_urls=(
  bare_http=http://127.0.0.1:21501/api/v1/_about
  nginx_alone=http://127.0.0.1:21502/api/v1/_about
  min_uwsgi=http://127.0.0.1:21503/api/v1/_about
  min_http=http://127.0.0.1:21504/api/v1/_about
  farmconf_uwsgi=http://127.0.0.1:21505/api/v1/_about
  farmconf_http=http://127.0.0.1:21506/api/v1/_about
)
ceiling() { # NAME: one run of that ceiling
  local c
  for c in "${ceiling_urls[@]}"; do [ "${c%%=*}" = "$1" ] && run "$1" "${c#*=}"; done
  return 0
}
workloads() { # NAME BASE [TWIN]: one run of each workload against farm at BASE; POST on TWIN right before BASE's
  local name=$1 base=$2 twin=${3:-}
  run "${name}_about" "$base/api/v1/_about"
  run "${name}_get" "$base/api/v1/animal/bench-1"
  run "${name}_page100" "$base/api/v1/animal?per_page=100&fields=all"
  [ -z "$twin" ] || run "${name}_twin_post" "$twin/api/v1/animal" -s "$LUA/post.lua" -- "${name}twin$r"
  run "${name}_post" "$base/api/v1/animal" -s "$LUA/post.lua" -- "${name}$r"
  run "${name}_patch" "$base/api/v1/animal" -s "$LUA/patch.lua" -- bench 256
  run "${name}_mix" "$base/api/v1/animal" -s "$LUA/mix.lua" -- bench 1000 "${name}mix$r"
}
# Each round measures every ceiling right before the farm path that is
# compared with it: the ratios are taken round by round, and their median
# kept, so that the machine's drift moves both sides of each.
[ "$only_feed" = 0 ] || rounds=0
for r in $(seq "$rounds"); do
  say "== round $r of $rounds"
  ceiling nginx_alone
  ceiling bare_http
  workloads direct http://127.0.0.1:21510
  ceiling min_uwsgi
  ceiling farmconf_uwsgi
  workloads stack_uwsgi http://127.0.0.1:21520 http://127.0.0.1:21512
  ceiling min_http
  ceiling farmconf_http
  workloads stack_http http://127.0.0.1:21521 http://127.0.0.1:21514
done

# rss PID: its resident memory now, KiB.
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
say "== the change feed's cost, on the direct instance"
# Settled: the memory of a process that just served load moves.
sleep 2
rss "$direct_pid" >"$work/results/feed_rss0"
for r in $(seq "$(( rounds > 0 ? rounds : 3 ))"); do
  run feed_get0 http://127.0.0.1:21510/api/v1/animal/bench-1
  "$work/streams" -n 1000 "http://127.0.0.1:21510/api/v1/_changes?since=now" >"$work/results/streams.out" & sp=$!
  until grep -q ready "$work/results/streams.out" 2>/dev/null; do sleep 0.1; done
  [ "$r" = 1 ] && { sleep 1; rss "$direct_pid" >"$work/results/feed_rss1000"; }
  run feed_get1000 http://127.0.0.1:21510/api/v1/animal/bench-1
  kill "$sp"; wait "$sp" 2>/dev/null || true
  # POSTs grow the database, and a run is slower on a larger one (its
  # commits touch more pages: 1.56 to 1.93 ms a commit over eight runs of
  # 5 s by hand), and the disk's pace moves within seconds (pairs of runs
  # side by side by hand: 0.86 to 1.18 with followers against without).
  # So three pairs a round, in alternating order, and the median of their
  # ratios.
  for k in 1 2 3; do
    if [ $(((r + k) % 2)) = 0 ]; then run feed_post0 http://127.0.0.1:21510/api/v1/animal -s "$LUA/post.lua" -- "feed0$r$k"; fi
    "$work/streams" -n 10 "http://127.0.0.1:21510/api/v1/_changes?since=now" >"$work/results/streams.out" & sp=$!
    until grep -q ready "$work/results/streams.out" 2>/dev/null; do sleep 0.1; done
    run feed_post10 http://127.0.0.1:21510/api/v1/animal -s "$LUA/post.lua" -- "feed10$r$k"
    kill "$sp"; wait "$sp" 2>/dev/null || true
    say "  10 followers: $(tail -n1 "$work/results/streams.out")"
    tail -n1 "$work/results/streams.out" >>"$work/results/feed_followers"
    if [ $(((r + k) % 2)) = 1 ]; then run feed_post0 http://127.0.0.1:21510/api/v1/animal -s "$LUA/post.lua" -- "feed0$r$k"; fi
  done
done

if [ "$only_feed" = 0 ]; then
say "== one instance of two frozen (SIGSTOP) for 10 s, GET load through NGINX (uwsgi)"
frozen=$(cat "$work/stack_uwsgi/logs/farm_1.pid")
(sleep 3; kill -STOP "$frozen"; sleep 10; kill -CONT "$frozen") & freezer=$!
exact frozen -c "$conns" -d 16s http://127.0.0.1:21520/api/v1/animal/bench-1
wait "$freezer"

# A starts first, and so writes the database (the writer's lock goes to the
# first instance to open it): B, with fewer clients, sends each of its
# writes to A and waits for A's answer, the harder case for it. Once a
# round, each time on a new database, the share taken round by round.
say "== two instances writing one database: A with 24 connections (the writer), B with 8"
for r in $(seq "$(( rounds > 0 ? rounds : 3 ))"); do
  two=()
  for x in A:21530 B:21532; do
    (cd "$direct" && SQLITE_PATH="$work/data/two_$r.db" FARM_PORT=${x#*:} FARM_IF=127.0.0.1 UWSGI_SOCKET= HTTP_SOCKET= METRICS_ADDR=127.0.0.1:$((${x#*:} + 1)) \
      exec "$FARM" -c conf/farm_uwsgi.cfg start >"$work/logs/two_${x%:*}_$r.log" 2>&1) & two+=($!)
    wait_up "http://127.0.0.1:$((${x#*:} + 1))/readyz"
  done
  grep -q "this instance writes the database" "$work/logs/two_A_$r.log" || die "two instances: A is not the writer ($work/logs/two_A_$r.log)"
  exact two_A -c 24 -d "$duration" -post "twoA$r" http://127.0.0.1:21530/api/v1/animal & wa=$!
  exact two_B -c 8 -d "$duration" -post "twoB$r" http://127.0.0.1:21532/api/v1/animal & wb=$!
  wait "$wa" "$wb"
  awk -v a="$(tail -n1 "$work/results/two_A" | cut -d' ' -f1)" -v b="$(tail -n1 "$work/results/two_B" | cut -d' ' -f1)" \
    'BEGIN { printf "%.3f\n", b / (a + b) }' >>"$work/results/two_share"
  say "  B's share: $(tail -n1 "$work/results/two_share")"
  for p in "${two[@]}"; do kill "$p"; done
  for p in "${two[@]}"; do wait "$p" 2>/dev/null || true; done
done
fi

stop_pids
# A large collection against a small one: the first thousand records of
# the large one (the same ids, species and sexes), their names and dates
# drawn from the small collection's pools, so that a rare filter fills a
# page in both (internal/bench/seed).
if [ "$big" -gt 0 ]; then
  say "== a large collection: $big records, against 1000"
  "$work/seed" ndjson "$big" >"$work/big.ndjson"
  "$work/seed" ndjson 1000 >"$work/small.ndjson"
  for size in small big; do
    SQLITE_PATH="$work/data/$size.db" /usr/bin/time -f "%e %M" -o "$work/results/import_$size" \
      "$FARM" import "$work/$size.ndjson" >/dev/null 2>"$work/logs/import_$size.log"
  done
  SQLITE_PATH="$work/data/big.db" /usr/bin/time -f "%e %M" -o "$work/results/export_big" \
    "$FARM" export -o "$work/big.out.ndjson" 2>/dev/null
  cmp -s "$work/big.ndjson" "$work/big.out.ndjson" || sort -c "$work/big.out.ndjson" 2>/dev/null || say "  the export is not in id order"
  say "  import: $(cat "$work/results/import_big") (seconds, KiB resident); export: $(cat "$work/results/export_big")"
  for x in small:21540 big:21542; do
    t0=$(date +%s%N)
    (cd "$direct" && SQLITE_PATH="$work/data/${x%:*}.db" FARM_PORT=${x#*:} FARM_IF=127.0.0.1 UWSGI_SOCKET= HTTP_SOCKET= \
      METRICS_ADDR=127.0.0.1:$((${x#*:} + 1)) exec "$FARM" -c conf/farm_uwsgi.cfg start >"$work/logs/${x%:*}.log" 2>&1) & pids+=($!)
    wait_up "http://127.0.0.1:$((${x#*:} + 1))/readyz"
    echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$work/results/startup_${x%:*}"
  done
  bigpid=${pids[${#pids[@]}-1]}
  # Measured warm: the record cache holds about 650 000 of the million
  # records (store/sqlite/cache.go), and reads at random fill it only
  # after about a million of them; 40 s of them first.
  say "  warming the record cache: 40 s of reads at random"
  wrk -t1 -c"$conns" -d40s -s "$LUA/random_get.lua" "http://127.0.0.1:21542/api/v1/animal" -- "$big" >/dev/null
  half=$(printf '%07d-0000000' 500000)
  large_urls=(
    "get_cached=/api/v1/animal/0007919-0000001"
    "get_random=/api/v1/animal"
    "next_page=/api/v1/animal?per_page=10&after=$half"
    "species=/api/v1/animal?species=cow&per_page=10"
    "species_sex=/api/v1/animal?species=chicken&sex=male&per_page=10"
    "name_hen=/api/v1/animal?name=hen&per_page=10&page=3"
    "name_rare=/api/v1/animal?name=name-007&per_page=10"
    "dob=/api/v1/animal?dob=2015-01-07&per_page=10"
    "name_dob=/api/v1/animal?name=hen&dob=2015-01-07&per_page=10"
    "deep_page=/api/v1/animal?per_page=10&page=@MIDDLE@"
    "deep_hen=/api/v1/animal?name=hen&per_page=10&page=@HEN@"
    "whole_100=/api/v1/animal?per_page=100&fields=all&after=$half"
  )
  for r in $(seq "$rounds"); do
    for u in "${large_urls[@]}"; do
      name=${u%%=*} path=${u#*=}
      for x in small:21540:1000 big:21542:$big; do
        n=${x##*:} port=$(cut -d: -f2 <<<"$x")
        p=${path//@MIDDLE@/$((n / 20))}
        p=${p//@HEN@/$((n / 40))}
        "$FARM" get "http://127.0.0.1:$port$p" >/dev/null 2>&1 || true # warm: the rank index is built on first use
        if [ "$name" = get_random ]; then
          run "large_${name}_${x%%:*}" "http://127.0.0.1:$port$p" -s "$LUA/random_get.lua" -- "$n"
        else
          run "large_${name}_${x%%:*}" "http://127.0.0.1:$port$p"
        fi
      done
    done
  done
  grep VmHWM "/proc/$bigpid/status" | awk '{print $2}' >"$work/results/rss_big"
fi

# The table.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# pratio A B: the median of A's and B's round-by-round ratios (req/s); pair
# by pair for the change feed's POST.
pratio() {
  paste -d' ' <(cut -d' ' -f1 "$work/results/$1") <(cut -d' ' -f1 "$work/results/$2") |
    awk '$2 > 0 { print $1 / $2 }' | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", v[int((NR + 1) / 2)]; else print "-" }'
}
row() { # measure, value, unit, against, its value, target[, ratio]
  local r ok
  r=${7:-$(ratio "$2" "$5")}
  ok=$(awk -v r="$r" -v t="$6" 'BEGIN { if (t == "") print ""; else if (r + 0 >= t + 0) print "yes"; else print "**no**" }')
  printf '| %s | %s %s | %s: %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5" "$r" "${6:+≥ $6}" "$ok"
}
feed_table() {
  printf '\n| the change feed | without | with | cost | target |\n|---|---|---|---|---|\n'
  printf '| memory of the instance, 1000 idle streams | %s MiB | %s MiB | %s MiB | under 50 MiB |\n' \
    "$(( $(cat "$work/results/feed_rss0") / 1024 ))" "$(( $(cat "$work/results/feed_rss1000") / 1024 ))" \
    "$(( ($(cat "$work/results/feed_rss1000") - $(cat "$work/results/feed_rss0")) / 1024 ))"
  printf '| GET animal/{id}, 1000 idle streams open | %s req/s | %s req/s | %s | under 5%% slower (ratio ≥ 0.95) |\n' \
    "$(val feed_get0)" "$(val feed_get1000)" "$(pratio feed_get1000 feed_get0)"
  printf '| POST animal, 10 streams following every write | %s req/s | %s req/s | %s | under 5%% slower (ratio ≥ 0.95) |\n' \
    "$(val feed_post0)" "$(val feed_post10)" "$(pratio feed_post10 feed_post0)"
  printf '\nWhat the 10 followers received, run by run (events, streams the server ended): %s\n' "$(tr '\n' ';' <"$work/results/feed_followers")"
}
table() {
  if [ "$only_feed" = 1 ]; then
    printf 'machine: %s cores, %s; wrk -t1 -c%s -d%s\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$conns" "$duration"
    feed_table
    return 0
  fi
  printf 'machine: %s cores, %s, %s, %s; disk %s O_DSYNC writes/s; wrk -t1 -c%s -d%s, %s rounds: medians of the figures, and of the ratios round by round\n\n' "$(nproc)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(uname -sr)" "$(go env GOVERSION)" \
    "$(cat "$work/results/dsync")" "$conns" "$duration" "$rounds"
  printf '| measure | farm | against | ratio | target | met |\n|---|---|---|---|---|---|\n'
  row "direct: GET _about" "$(val direct_about)" req/s "bare net/http" "$(val bare_http)" 0.85 "$(pratio direct_about bare_http)"
  row "direct: GET animal/{id}" "$(val direct_get)" req/s "bare net/http" "$(val bare_http)" 0.70 "$(pratio direct_get bare_http)"
  for t in uwsgi http; do
    row "NGINX $t, 2 instances: GET _about" "$(val stack_${t}_about)" req/s "bare $t behind farm's NGINX config" "$(val farmconf_$t)" 0.80 "$(pratio stack_${t}_about farmconf_$t)"
    row "NGINX $t, 2 instances: GET animal/{id}" "$(val stack_${t}_get)" req/s "bare $t behind farm's NGINX config" "$(val farmconf_$t)" 0.65 "$(pratio stack_${t}_get farmconf_$t)"
  done
  for t in uwsgi http; do
    row "farm's NGINX config, $t" "$(val farmconf_$t)" req/s "minimal NGINX config, $t" "$(val min_$t)" 0.90 "$(pratio farmconf_$t min_$t)"
  done
  for t in uwsgi http; do
    row "NGINX $t, 2 instances: POST animal" "$(val stack_${t}_post)" req/s "one instance alone, direct, right before" "$(val stack_${t}_twin_post)" 0.90 "$(pratio stack_${t}_post stack_${t}_twin_post)"
    row "NGINX $t, 2 instances: POST animal" "$(val stack_${t}_post)" req/s "disk, one O_DSYNC write at a time" "$(cat "$work/results/dsync")" 1.0
  done
  local a b
  a=$(val two_A) b=$(val two_B)
  row "two instances, one file: B's share of the writes (8 of 32 connections; A writes)" "$b" req/s "A + B" "$((a + b))" 0.25 "$(val two_share)"
  printf '\n| workload | direct | NGINX uwsgi | NGINX http |\n|---|---|---|---|\n'
  for w in about:"GET _about" get:"GET animal/{id}" page100:"GET a page of 100 whole records" post:"POST animal" \
    patch:"PATCH animal/{id} with If-Match" mix:"90% GET animal/{id}, 10% POST"; do
    printf '| %s |' "${w#*:}"
    for p in direct stack_uwsgi stack_http; do
      printf ' %s req/s, p99 %s ms%s |' "$(val "${p}_${w%%:*}")" "$(val "${p}_${w%%:*}" 2)" \
        "$(e=$(val "${p}_${w%%:*}" 3); [ "$e" = 0 ] || printf ', **%s errors**' "$e")"
    done
    printf '\n'
  done
  printf '\n| ceiling | req/s |\n|---|---|\n'
  for c in "${ceiling_urls[@]}"; do printf '| %s | %s |\n' "${c%%=*}" "$(val "${c%%=*}")"; done
  printf '\n| test | req/s | p99 | errors and timeouts | target |\n|---|---|---|---|---|\n'
  printf '| two instances, one file: A (24 connections) | %s | %s ms | %s | p99 ≤ 100 ms, no errors |\n' "$a" "$(val two_A 2)" "$(val two_A 3)"
  printf '| two instances, one file: B (8 connections) | %s | %s ms | %s | p99 ≤ 100 ms, no errors |\n' "$b" "$(val two_B 2)" "$(val two_B 3)"
  printf '| one of two instances frozen 10 s, GET through NGINX | %s | %s ms | %s | p99 < 1 s, no errors |\n' "$(val frozen)" "$(val frozen 2)" "$(val frozen 3)"
  feed_table
  [ "$big" -gt 0 ] || return 0
  printf '\n%s records against 1000, one instance, HTTP directly:\n\n' "$big"
  printf '| request | 1000 records | %s records | cost ratio | target |\n|---|---|---|---|---|\n' "$big"
  for u in "${large_urls[@]}"; do
    local name=${u%%=*} s b label=${u#*=}
    s=$(val "large_${name}_small") b=$(val "large_${name}_big")
    [ "$name" != get_random ] || label="/api/v1/animal/{id}, ids at random (random_get.lua)"
    printf '| %s | %s req/s | %s req/s | %s | ≤ 1.5 %s |\n' "$label" "$s" "$b" "$(ratio "$s" "$b")" \
      "$(awk -v s="$s" -v b="$b" 'BEGIN { print (b > 0 && s / b <= 1.5) ? "yes" : "**no**" }')"
  done
  printf '\n| | figure | target |\n|---|---|---|\n'
  printf '| farm import of %s records into SQLite | %s s, %s MiB resident | 60 s, 200 MiB |\n' "$big" \
    "$(cut -d' ' -f1 "$work/results/import_big")" "$(( $(cut -d' ' -f2 "$work/results/import_big") / 1024 ))"
  printf '| farm export of them | %s s, %s MiB resident | 60 s, 200 MiB |\n' \
    "$(cut -d' ' -f1 "$work/results/export_big")" "$(( $(cut -d' ' -f2 "$work/results/export_big") / 1024 ))"
  printf '| start-up on them (to /readyz) | %s ms (on 1000: %s ms) | under 1 s |\n' "$(cat "$work/results/startup_big")" "$(cat "$work/results/startup_small")"
  printf '| peak resident memory of that instance under the load above | %s MiB | under 100 MiB |\n' "$(( $(cat "$work/results/rss_big") / 1024 ))"
}
printf '\n'
if [ -n "$out" ]; then table | tee "$out"; else table; fi
