# The production stack's steps, shared by farm_start.sh and farm_stop.sh.
# Source it from the project folder; do not run it.

. scripts/lib.sh

# The settings a stack was started with, kept in logs/farm_settings so
# that --reload and --revive run the same stack (the same instances, the
# same transport, ...) when they are not given again.
SETTINGS=(FARM_INSTANCES FARM_CONFIG FARM_SOCKET_DIR FARM_NGINX_USER FARM_PORT_NGINX
  FARM_METRICS_PORT FARM_TRANSPORT FARM_SCHED_POLICY FARM_NGINX_WORKERS FARM_NGINX_CONNS
  FARM_NGINX_RATE FARM_NGINX_BURST FARM_BIN FARM_NGINX)
SETTINGS_FILE=logs/farm_settings

# load_settings sets, from logs/farm_settings, each setting the environment
# does not give, and says which it took. A stack started before there was
# such a file: its instances are counted from their pid files.
load_settings() {
  local k v s f i taken=""
  if [ ! -f "$SETTINGS_FILE" ]; then
    if [ -z "${FARM_INSTANCES+set}" ]; then
      for f in logs/farm_*.pid; do
        [ -f "$f" ] || continue
        i=${f#logs/farm_}
        i=${i%.pid}
        case $i in ''|*[!0-9]*) continue ;; esac
        if [ "$i" -gt "${FARM_INSTANCES:-0}" ]; then FARM_INSTANCES=$i; fi
      done
      [ -z "${FARM_INSTANCES:-}" ] || say "no $SETTINGS_FILE: $FARM_INSTANCES instances, by their pid files"
    fi
    return 0
  fi
  while IFS= read -r line; do
    k=${line%%=*} v=${line#*=}
    for s in "${SETTINGS[@]}"; do
      if [ "$k" = "$s" ] && [ -n "$v" ] && [ -z "${!k+set}" ]; then
        printf -v "$k" '%s' "$v"
        export "${k?}"
        taken+=" $k=$v"
      fi
    done
  done <"$SETTINGS_FILE"
  [ -z "$taken" ] || say "the stack's settings (from $SETTINGS_FILE):$taken"
}

# save_settings writes the settings this stack runs with.
save_settings() {
  local s
  for s in "${SETTINGS[@]}"; do
    printf '%s=%s\n' "$s" "${!s-}"
  done >"$SETTINGS_FILE.new"
  mv "$SETTINGS_FILE.new" "$SETTINGS_FILE"
}

# stack_init reads the settings and checks them; it builds farm when the
# binary is missing, unless called with --no-build (farm_stop.sh needs no
# binary to stop what runs).
stack_init() {
  FARM_INSTANCES=${FARM_INSTANCES:-2}
  FARM_CONFIG=${FARM_CONFIG:-conf/farm_uwsgi.cfg}
  # The sockets' folder is private: farm's user, and NGINX's workers
  # through its group. As root, NGINX's workers run as FARM_NGINX_USER.
  if [ "$(id -u)" = 0 ]; then
    FARM_SOCKET_DIR=${FARM_SOCKET_DIR:-/run/farm}
    if [ -z "${FARM_NGINX_USER:-}" ]; then
      FARM_NGINX_USER=nobody
      getent passwd www-data >/dev/null 2>&1 && FARM_NGINX_USER=www-data
    fi
    FARM_NGINX_GROUP=$(id -gn "$FARM_NGINX_USER" 2>/dev/null) || die "FARM_NGINX_USER $FARM_NGINX_USER is not a user of this machine"
  else
    FARM_SOCKET_DIR=${FARM_SOCKET_DIR:-${XDG_RUNTIME_DIR:-/tmp}/farm-$(id -u)}
    FARM_NGINX_USER="" FARM_NGINX_GROUP=""
  fi
  FARM_PORT_NGINX=${FARM_PORT_NGINX:-44444}
  FARM_METRICS_PORT=${FARM_METRICS_PORT:-9100}
  FARM_TRANSPORT=${FARM_TRANSPORT:-uwsgi}
  FARM_SCHED_POLICY=${FARM_SCHED_POLICY:-batch}
  FARM_DATASTORE=${FARM_DATASTORE:-} # check_config reads it from the configuration
  FARM_BIN=${FARM_BIN:-bin/farm}
  FARM_START_TIMEOUT=${FARM_START_TIMEOUT:-30}
  FARM_STOP_TIMEOUT=${FARM_STOP_TIMEOUT:-40}
  # Half the cores, at least one: NGINX and the instances share them.
  FARM_NGINX_WORKERS=${FARM_NGINX_WORKERS:-$(( ($(nproc) + 1) / 2 ))}
  # Per client address (the machine itself is not limited).
  FARM_NGINX_CONNS=${FARM_NGINX_CONNS:-64}
  FARM_NGINX_RATE=${FARM_NGINX_RATE:-100}
  FARM_NGINX_BURST=${FARM_NGINX_BURST:-200}
  LOGS=logs
  case $FARM_INSTANCES in ''|*[!0-9]*|0) die "FARM_INSTANCES must be a whole number of at least 1, not '$FARM_INSTANCES'" ;; esac
  case $FARM_TRANSPORT in uwsgi|http) ;; *) die "FARM_TRANSPORT must be uwsgi or http, not '$FARM_TRANSPORT'" ;; esac
  case $FARM_SCHED_POLICY in batch|other) ;; *) die "FARM_SCHED_POLICY must be batch or other, not '$FARM_SCHED_POLICY'" ;; esac
  if [ "$FARM_SCHED_POLICY" = batch ] && ! command -v chrt >/dev/null 2>&1; then
    die "FARM_SCHED_POLICY=batch needs chrt (util-linux): install it, or set FARM_SCHED_POLICY=other"
  fi
  for v in FARM_PORT_NGINX FARM_METRICS_PORT FARM_START_TIMEOUT FARM_STOP_TIMEOUT FARM_NGINX_WORKERS FARM_NGINX_CONNS FARM_NGINX_RATE FARM_NGINX_BURST; do
    case ${!v} in ''|*[!0-9]*) die "$v must be a whole number, not '${!v}'" ;; esac
  done
  [ -f "$FARM_CONFIG" ] || die "no configuration file $FARM_CONFIG"
  mkdir -p "$LOGS/nginx_tmp"
  if [ ! -x "$FARM_BIN" ] && [ "${1:-}" != --no-build ]; then
    build_farm
  fi
  NGINX=${FARM_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
  [ -x "$NGINX" ] || die "nginx not found (looked for ${FARM_NGINX:-nginx on PATH and /usr/sbin/nginx}): install it with sudo apt-get install nginx, or set FARM_NGINX"
}

instance_env() { # the environment that makes instance $1 unique
  local i=$1
  # The instances share the cores: each Go runtime gets its share of them
  # (measured on 2 cores with 2 instances: half again the requests of two
  # runtimes that each schedule on both cores; docs/benchmarks.md).
  printf '%s\n' "GOMAXPROCS=${GOMAXPROCS:-$(( $(nproc) / FARM_INSTANCES > 1 ? $(nproc) / FARM_INSTANCES : 1 ))}"
  # Keep the Go runtime's monitor thread (sysmon) from parking. It parks
  # whenever every P of the runtime is idle, which with one core's share
  # is between any two requests, and the next system call then wakes it
  # (a futex, a thread switch): through NGINX on 2 cores that was a third
  # of an instance's CPU a request. A schedtrace interval keeps it awake
  # (it then sleeps 20 us to 10 ms a round, backing off when idle). Its
  # other effects: a scheduler summary line on stderr every 24.8 days (the
  # longest interval; at start too when the machine has been up longer),
  # and one in a crash's dump. docs/operations.md.
  case ,${GODEBUG:-}, in
    *,schedtrace=*) printf '%s\n' "GODEBUG=$GODEBUG" ;;
    *) printf '%s\n' "GODEBUG=${GODEBUG:+$GODEBUG,}schedtrace=2147483647" ;;
  esac
  # Only the sockets NGINX uses: the other transport's are set empty, over
  # the configuration's. The writes socket is the same for every instance:
  # the one that writes the database listens on it (write_nginx_conf).
  if [ "$FARM_TRANSPORT" = http ]; then
    printf '%s\n' "UWSGI_SOCKET=" "HTTP_SOCKET=$FARM_SOCKET_DIR/farm_http_$i.socket" \
      "UWSGI_WRITES_SOCKET=" "HTTP_WRITES_SOCKET=$FARM_SOCKET_DIR/farm_http_writes.socket"
  else
    printf '%s\n' "UWSGI_SOCKET=$FARM_SOCKET_DIR/farm_$i.socket" "HTTP_SOCKET=" \
      "UWSGI_WRITES_SOCKET=$FARM_SOCKET_DIR/farm_writes.socket" "HTTP_WRITES_SOCKET="
  fi
  printf '%s\n' \
    "SOCKET_MODE=0660" \
    "METRICS_ADDR=127.0.0.1:$((FARM_METRICS_PORT + i))" \
    "FARM_INSTANCE=farm-$i"
  # The URLs farm answers with name NGINX's port, unless the configuration
  # names a public URL of its own (check_config).
  [ -z "${FARM_PUBLIC_URL:-}" ] || printf '%s\n' "PUBLIC_URL=$FARM_PUBLIC_URL"
}

# live tells whether pid $1 is a running process: a zombie (dead, not yet
# reaped by its parent) is not.
live() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "${state%% *}" != Z ]
}

# alive tells whether the pid in file $1 is a running process (any).
alive() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  case $pid in ''|*[!0-9]*) return 1 ;; esac
  live "$pid"
}

# ours tells whether the pid in pid file $1 is still the process this
# deployment started: NGINX's master with this folder's configuration, or
# farm instance i started from this folder (its FARM_INSTANCE says so). A
# pid reused by another program (after a reboot, say) is never signalled.
ours() {
  local f=$1 pid cmd i
  alive "$f" || return 1
  pid=$(cat "$f")
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  case $f in
    */nginx.pid)
      case $cmd in "nginx: master process "*"-p $PWD "*"-c $LOGS/nginx.conf"*) ;; *) return 1 ;; esac
      ;;
    *)
      i=${f##*/farm_}
      i=${i%.pid}
      case " $cmd" in *" start "*) ;; *) return 1 ;; esac
      [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$PWD" ] || return 1
      tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "FARM_INSTANCE=farm-$i" || return 1
      ;;
  esac
}

# forget removes pid file $1 when it no longer names a process of ours,
# saying so when its pid is now another program's.
forget() {
  local f=$1
  [ -f "$f" ] || return 0
  ours "$f" && return 0
  if alive "$f"; then
    say "$f names pid $(cat "$f"), which is not what this deployment started (now: $(tr '\0' ' ' <"/proc/$(cat "$f")/cmdline" 2>/dev/null | cut -c1-60)): left alone, pid file removed"
  fi
  rm -f "$f"
}

running_pids() {
  local f
  for f in "$LOGS"/farm_*.pid "$LOGS"/nginx.pid; do
    ours "$f" && cat "$f"
  done
  return 0
}

clean_pidfiles() {
  local f
  for f in "$LOGS"/farm_*.pid "$LOGS"/nginx.pid; do
    forget "$f"
  done
  return 0
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# public_url sets the base of the URLs the instances answer with: the
# configuration's PUBLIC_URL, else NGINX's address.
public_url() {
  FARM_PUBLIC_URL=$("$FARM_BIN" -c "$FARM_CONFIG" config --get PUBLIC_URL 2>/dev/null) || FARM_PUBLIC_URL=""
  FARM_PUBLIC_URL=${FARM_PUBLIC_URL:-http://127.0.0.1:$FARM_PORT_NGINX}
}

# check_config checks farm's configuration and NGINX's, as they would run.
check_config() {
  local out store
  out=$("$FARM_BIN" -c "$FARM_CONFIG" config 2>&1 >/dev/null) || die "$out"
  store=$("$FARM_BIN" -c "$FARM_CONFIG" config --get DATASTORE 2>/dev/null)
  FARM_DATASTORE=$store # write_nginx_conf's writes upstream
  public_url
  if [ "$store" = RAM ] && [ "$FARM_INSTANCES" -gt 1 ]; then
    die "DATASTORE is RAM in $FARM_CONFIG: each instance would have its own records; use SQLite, or FARM_INSTANCES=1"
  fi
  write_nginx_conf
  out=$("$NGINX" -t -q -p "$PWD" -e "$LOGS/nginx_error.log" -c "$LOGS/nginx.conf" 2>&1) || die "NGINX configuration: $out"
}

# check_free fails when a port the stack needs is taken.
check_free() {
  port_taken "$FARM_PORT_NGINX" && die "port $FARM_PORT_NGINX is taken (another NGINX or farm?): free it or set FARM_PORT_NGINX"
  local i p
  for i in $(seq 1 "$FARM_INSTANCES"); do
    p=$((FARM_METRICS_PORT + i))
    port_taken "$p" && die "port $p (metrics of instance $i) is taken: free it or set FARM_METRICS_PORT"
  done
  return 0
}

# prepare_write_token creates the configuration's WRITE_TOKEN_FILE when it
# names one that does not exist yet: 32 random bytes in hex, mode 0600.
prepare_write_token() {
  local f
  f=$("$FARM_BIN" -c "$FARM_CONFIG" config --get WRITE_TOKEN_FILE 2>/dev/null) || f=""
  [ -n "$f" ] || return 0
  if [ ! -e "$f" ]; then
    mkdir -p "$(dirname "$f")"
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$f.new" && echo >>"$f.new" && mv "$f.new" "$f") ||
      die "cannot create the write token file $f"
    say "created the write token in $f: writes through the API need 'Authorization: Bearer <its line>' (the CLI sends it)"
  fi
  [ -r "$f" ] || die "the write token file $f cannot be read"
}

# prepare_socket_dir makes FARM_SOCKET_DIR the sockets' private folder:
# ours, mode 0700; as root, group NGINX's workers' with mode 2750 (the
# sockets inherit the group: the workers connect, no one else can even
# look in, nor put a socket of their own where an instance will bind). It
# refuses a folder someone else owns or could replace.
prepare_socket_dir() {
  local d=$FARM_SOCKET_DIR parent me
  me=$(id -u)
  case $d in /*) ;; *) die "FARM_SOCKET_DIR must be an absolute path, not '$d'" ;; esac
  [ ${#d} -le 80 ] || die "FARM_SOCKET_DIR is too long for unix socket paths (${#d} characters; 80 at most)"
  parent=$(dirname "$d")
  [ -d "$parent" ] || mkdir -p -m 0755 "$parent"
  # A parent others may write to must be sticky (/tmp), or they could
  # rename the folder away and put theirs in its place.
  if [ $(( 0$(stat -c %a "$parent") & 01002 )) -eq 2 ]; then
    die "FARM_SOCKET_DIR's parent $parent is writable by everyone and not sticky: choose another place"
  fi
  [ -L "$d" ] && die "FARM_SOCKET_DIR $d is a symbolic link: it must be a folder of farm's own"
  if [ ! -e "$d" ]; then
    mkdir -m 0700 "$d" || die "cannot create FARM_SOCKET_DIR $d"
  fi
  [ -d "$d" ] || die "FARM_SOCKET_DIR $d is not a folder"
  [ "$(stat -c %u "$d")" = "$me" ] ||
    die "FARM_SOCKET_DIR $d belongs to $(stat -c %U "$d"), not to $(id -un): the sockets need a folder of farm's own (remove it, or choose another)"
  if [ -n "$FARM_NGINX_GROUP" ]; then
    chgrp "$FARM_NGINX_GROUP" "$d" && chmod 2750 "$d"
  else
    chmod 0700 "$d"
  fi || die "cannot set the owner and mode of FARM_SOCKET_DIR $d"
  # Nothing in it that another user put there before it was private.
  if [ -n "$(find "$d" -mindepth 1 ! -user "$me" -print -quit)" ]; then
    die "FARM_SOCKET_DIR $d holds files of another user: remove them"
  fi
}

# check_nginx_access makes sure, as root, that NGINX's workers (who run
# as FARM_NGINX_USER) can read static/ and reach the sockets' folder:
# otherwise every page would be a 404 and every API call a 502, and
# nothing would say why. It names the folder in the way.
check_nginx_access() {
  [ -n "$FARM_NGINX_USER" ] || return 0
  local as=(setpriv --reuid="$FARM_NGINX_USER" --regid="$FARM_NGINX_GROUP" --init-groups)
  local target d blocker part parts how
  for target in "$PWD/static/index.html" "$FARM_SOCKET_DIR/"; do
    "${as[@]}" test -r "$target" -a -x "${target%/*}" 2>/dev/null && continue
    # The first folder on the way they cannot pass.
    blocker="" d=""
    IFS=/ read -ra parts <<<"${target%/*}"
    for part in "${parts[@]}"; do
      [ -n "$part" ] || continue
      d+="/$part"
      if ! "${as[@]}" test -x "$d" 2>/dev/null; then blocker=$d; break; fi
    done
    blocker=${blocker:-$target}
    if [ "$target" = "$FARM_SOCKET_DIR/" ]; then
      how="chmod o+x $blocker, or set FARM_SOCKET_DIR to a folder they can reach (the default is /run/farm)"
    elif [ "$blocker" = "$target" ] || [ "$blocker" = "$PWD/static" ]; then
      how="chmod -R o+rX $PWD/static, or set FARM_NGINX_USER to a user who can read it"
    else
      how="chmod o+x $blocker, set FARM_NGINX_USER to a user who can pass it, or deploy from a folder they can read (/srv/farm)"
    fi
    die "NGINX's workers run as $FARM_NGINX_USER, who cannot reach $target: $blocker is $(stat -c '%A %U:%G' "$blocker"). To let them: $how"
  done
}

# write_nginx_conf writes logs/nginx.conf: conf/nginx_uwsgi.conf with this
# run's port, workers, instances, sockets and transport.
write_nginx_conf() {
  local ups i sock=farm_ keep=""
  if [ "$FARM_TRANSPORT" = http ]; then
    sock=farm_http_
    keep="        keepalive 64;"$'\n'
  fi
  ups="    upstream farm_api {"$'\n'"        zone farm_api 64k;"$'\n'
  for i in $(seq 1 "$FARM_INSTANCES"); do
    ups+="        server \"unix:$FARM_SOCKET_DIR/$sock$i.socket\" max_fails=1 fail_timeout=2s;"$'\n'
  done
  ups+="$keep    }"$'\n'
  # Writes go to the instance that writes the database, on the writes
  # socket only it listens on, and to the others' own sockets while it
  # does not answer there (a new writer takes it over within 20 ms of
  # the last one's end). Only SQLite has one writer; with another store,
  # or one instance, writes are spread as reads are. max_fails=0: NGINX
  # never marks a write's server down. A write is repeated only when its
  # server refuses or drops it (an error; after a timeout it is not),
  # which on a unix socket costs microseconds, so marks would save
  # little; and they cost writes: NGINX marks a backup on its first
  # failure, clears the mark only by a success, and after fail_timeout
  # lets one request at a time try it. Backups get writes only while
  # the writer is gone, so theirs stayed marked from a kill long before,
  # and the next writer's death left NGINX none to send to ("no live
  # upstreams": 503s with two instances up, TestChaos).
  ups+="    upstream farm_write {"$'\n'"        zone farm_write 64k;"$'\n'
  local backup=""
  if [ "${FARM_DATASTORE,,}" = sqlite ] && [ "$FARM_INSTANCES" -gt 1 ]; then
    ups+="        server \"unix:$FARM_SOCKET_DIR/${sock}writes.socket\" max_fails=0;"$'\n'
    backup=" backup"
  fi
  for i in $(seq 1 "$FARM_INSTANCES"); do
    ups+="        server \"unix:$FARM_SOCKET_DIR/$sock$i.socket\" max_fails=0$backup;"$'\n'
  done
  ups+="$keep    }"$'\n'"    upstream farm_metrics {"$'\n'"        hash \$remote_addr consistent;"$'\n'
  for i in $(seq 1 "$FARM_INSTANCES"); do
    ups+="        server \"unix:$FARM_SOCKET_DIR/$sock$i.socket\";"$'\n'
  done
  ups+="$keep    }"
  UPSTREAMS=$ups PORT=$FARM_PORT_NGINX WORKERS=$FARM_NGINX_WORKERS T=$FARM_TRANSPORT CONF="$PWD/conf" \
    NUSER=$FARM_NGINX_USER NGROUP=$FARM_NGINX_GROUP \
    CONNS=$FARM_NGINX_CONNS RATE=$FARM_NGINX_RATE BURST=$FARM_NGINX_BURST awk '
    /# farm-upstreams-begin/ { print; print ENVIRON["UPSTREAMS"]; skip = 1; next }
    /# farm-upstreams-end/   { skip = 0 }
    skip { next }
    # Whole lines, not sub(): a "&" in a path would mean the match there.
    /^worker_processes / {
      # As root, the workers run as the user the socket folder is for.
      if (ENVIRON["NUSER"] != "") print "user " ENVIRON["NUSER"] " " ENVIRON["NGROUP"] ";"
      print "worker_processes " ENVIRON["WORKERS"] ";"; next
    }
    /^ *listen 44444;/ { print "        listen " ENVIRON["PORT"] ";"; next }
    /^ *limit_req_zone / { print "    limit_req_zone $farm_client zone=farm_req:10m rate=" ENVIRON["RATE"] "r/s;"; next }
    /^ *limit_conn farm_conn / { print "        limit_conn farm_conn " ENVIRON["CONNS"] ";"; next }
    /^ *limit_req zone=farm_req / { print "        limit_req zone=farm_req burst=" ENVIRON["BURST"] " nodelay;"; next }
    /^ *include farm_(api|write|idempotent|feed)_uwsgi.conf;/ {
      match($0, /^ */); lead = substr($0, 1, RLENGTH)
      name = $2; sub(/_uwsgi.conf;$/, "", name)
      print lead "include \"" ENVIRON["CONF"] "/" name "_" ENVIRON["T"] ".conf\";"; next
    }
    /^ *uwsgi_pass farm_[a-z]*;/ && ENVIRON["T"] == "http" {
      match($0, /^ */); lead = substr($0, 1, RLENGTH)
      name = $2; sub(/;$/, "", name)
      print lead "proxy_pass http://" name ";"; next
    }
    { print }
  ' conf/nginx_uwsgi.conf >"$LOGS/nginx.conf.new"
  mv "$LOGS/nginx.conf.new" "$LOGS/nginx.conf"
}

write_targets() { # for Prometheus's file_sd (conf/prometheus.yml)
  local i sep="" t=""
  for i in $(seq 1 "$FARM_INSTANCES"); do
    t+="$sep\"127.0.0.1:$((FARM_METRICS_PORT + i))\""
    sep=", "
  done
  printf '[{"targets": [%s], "labels": {"service": "farm"}}]\n' "$t" >"$LOGS/farm_targets.json.new"
  mv "$LOGS/farm_targets.json.new" "$LOGS/farm_targets.json"
}

# backup_logs moves the logs in logs/ to logs/backup/<time>-$1/; empty
# ones are dropped, not kept.
backup_logs() {
  local dir f moved=0
  dir="$LOGS/backup/$(date -u +%Y%m%dT%H%M%SZ)-$1"
  for f in "$LOGS"/*.log; do
    [ -f "$f" ] || continue
    if [ -s "$f" ]; then
      mkdir -p "$dir"
      mv "$f" "$dir"/
      moved=1
    else
      rm -f "$f"
    fi
  done
  [ "$moved" = 0 ] || say "logs backed up to $dir"
}

# sched_policy prints the command that starts an instance under
# FARM_SCHED_POLICY. batch (SCHED_BATCH, the default): an instance woken by
# a request does not preempt the process running on that core, which is
# NGINX with the next requests in hand more often than not; it runs at
# NGINX's next pause, or on another core. Under the default policy, every
# request that found an instance idle took the core from NGINX: on 2
# cores, NGINX was switched out once every two requests, and GET through
# NGINX reached 13-18% fewer requests a second (docs/benchmarks.md). Batch
# threads are not niced: over a scheduling period they get the same CPU.
sched_policy() {
  if [ "$FARM_SCHED_POLICY" = batch ]; then echo chrt --batch 0; fi
}

start_instance() {
  local i=$1
  forget "$LOGS/farm_$i.pid"
  [ -f "$LOGS/farm_$i.pid" ] && die "instance $i is already running (pid $(cat "$LOGS/farm_$i.pid"))"
  local vars
  mapfile -t vars < <(instance_env "$i")
  # setsid: the instance outlives this script and its terminal. chrt:
  # its threads' scheduling policy (sched_policy).
  env "${vars[@]}" setsid $(sched_policy) "$FARM_BIN" -c "$FARM_CONFIG" start \
    </dev/null >>"$LOGS/farm_$i.log" 2>&1 &
  echo $! >"$LOGS/farm_$i.pid"
}

# wait_ready waits until instance $1 says it is ready, without sleeping
# blindly: it asks the instance's own health endpoint.
wait_ready() {
  local i=$1 url deadline
  url="http://127.0.0.1:$((FARM_METRICS_PORT + i))/readyz"
  deadline=$((SECONDS + FARM_START_TIMEOUT))
  until "$FARM_BIN" get "$url" >/dev/null 2>&1; do
    if ! alive "$LOGS/farm_$i.pid"; then
      say "instance $i exited; the end of logs/farm_$i.log:"
      tail -n 5 "$LOGS/farm_$i.log" >&2
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      say "instance $i not ready after ${FARM_START_TIMEOUT}s; the end of logs/farm_$i.log:"
      tail -n 5 "$LOGS/farm_$i.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

# wait_taken waits, in a rolling restart, until NGINX sends instance $1
# requests again: at least fail_timeout (2 s, which a failure while it
# restarted put it out for), then until it has answered one (its request
# count, on its metrics address, which health checks do not add to), or
# 10 s when nothing comes (a stack without traffic). Stopping the next
# instance before that could leave NGINX none to send to.
wait_taken() {
  local i=$1 url deadline n
  url="http://127.0.0.1:$((FARM_METRICS_PORT + i))/metrics"
  sleep 2
  deadline=$((SECONDS + 8))
  while [ $SECONDS -lt $deadline ]; do
    n=$("$FARM_BIN" get "$url" 2>/dev/null | awk '/^farm_http_requests_total\{/ { n += $NF } END { print n + 0 }')
    [ "${n:-0}" -gt 0 ] && return 0
    sleep 0.1
  done
}

start_nginx() {
  local out
  out=$("$NGINX" -p "$PWD" -e "$LOGS/nginx_error.log" -c "$LOGS/nginx.conf" 2>&1) || {
    say "NGINX did not start: $out"
    return 1
  }
}

wait_nginx() {
  local deadline=$((SECONDS + FARM_START_TIMEOUT))
  until "$FARM_BIN" get "http://127.0.0.1:$FARM_PORT_NGINX/readyz" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      say "NGINX does not answer on port $FARM_PORT_NGINX after ${FARM_START_TIMEOUT}s; see logs/nginx_error.log"
      return 1
    fi
    sleep 0.1
  done
}

reload_nginx() {
  "$NGINX" -p "$PWD" -e "$LOGS/nginx_error.log" -c "$LOGS/nginx.conf" -s reload
}

# stop_pid stops the process in pid file $2 (named $1) with signal $3 and
# waits for it; after FARM_STOP_TIMEOUT seconds it kills it.
stop_pid() {
  local name=$1 file=$2 sig=$3 pid deadline
  forget "$file"
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  kill "-$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + FARM_STOP_TIMEOUT))
  while live "$pid"; do
    if [ $SECONDS -ge $deadline ]; then
      say "$name (pid $pid) did not stop in ${FARM_STOP_TIMEOUT}s: killed"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$file"
  say "$name stopped"
}

stop_instance() { stop_pid "instance $1" "$LOGS/farm_$1.pid" TERM; }

stop_all() {
  local f i
  # NGINX first (QUIT: finish the requests it has), then the instances.
  stop_pid nginx "$LOGS/nginx.pid" QUIT
  for f in "$LOGS"/farm_*.pid; do
    [ -f "$f" ] || continue
    i=${f#"$LOGS"/farm_}
    stop_instance "${i%.pid}"
  done
}
