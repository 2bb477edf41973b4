#!/usr/bin/env bash
# Start farm in production: N farm instances behind NGINX on port 44444,
# NGINX passing /api to them over the uwsgi protocol on unix sockets and
# serving static/ itself. Logs and pid files go to logs/; logs already
# there are backed up first (logs/backup/<time>-start/). When the
# configuration names a WRITE_TOKEN_FILE that does not exist yet, it is
# created (data/production/write_token with the shipped configuration).
#
#   ./farm_start.sh            start the stack
#   ./farm_start.sh --reload   rolling restart: replace the instances one at
#                              a time (a new build, a new configuration)
#   ./farm_start.sh --revive   start again the instances that are not running
#                              (one crashed, or was killed); the others,
#                              and NGINX, are left as they are
#   ./farm_start.sh --check    check the configurations, start nothing
#   ./farm_stop.sh             stop it all
#
# --reload and --revive run the stack with the settings it was started
# with (kept in logs/farm_settings), except those given again: a reload
# with FARM_INSTANCES=3 on a stack of 4 stops the fourth.
#
# Settings (environment):
#   FARM_INSTANCES=2            how many farm instances
#   FARM_CONFIG=conf/farm_uwsgi.cfg
#   FARM_SOCKET_DIR             the instances' sockets' folder, private to farm and
#                               NGINX's workers (default /run/farm as root, else
#                               $XDG_RUNTIME_DIR/farm-UID or /tmp/farm-UID)
#   FARM_NGINX_USER             as root, the user NGINX's workers run as
#                               (default www-data, else nobody)
#   FARM_PORT_NGINX=44444       NGINX's port
#   FARM_METRICS_PORT=9100      instance i serves metrics and health on
#                               127.0.0.1:(FARM_METRICS_PORT + i)
#   FARM_TRANSPORT=uwsgi        how NGINX reaches farm: uwsgi or http
#   FARM_NGINX_WORKERS          NGINX's worker processes (default: half the cores)
#   FARM_SCHED_POLICY=batch     the instances' scheduling policy: batch
#                               (SCHED_BATCH: a woken instance does not preempt
#                               NGINX) or other (the kernel's default)
#   FARM_NGINX_CONNS=64         per client address: connections at once,
#   FARM_NGINX_RATE=100         requests a second,
#   FARM_NGINX_BURST=200        and a burst above the rate (429 past them;
#                               the machine itself is not limited)
#   FARM_BIN=bin/farm           the farm binary (built when missing)
#   FARM_NGINX=nginx            the NGINX binary (default: on PATH, or /usr/sbin/nginx)
#   FARM_START_TIMEOUT=30       seconds to wait for everything to answer
set -Eeuo pipefail # -E: the ERR trap below also sees failures inside functions
cd "$(dirname "$0")"
. scripts/stack.sh

mode=start
case "${1:-}" in
  "") ;;
  --reload) mode=reload ;;
  --check) mode=check ;;
  --revive) mode=revive ;;
  -h|--help) usage; exit 0 ;;
  *) die "unknown argument $1 (see --help)" ;;
esac

case $mode in reload|revive) load_settings ;; esac
stack_init
case $mode in
  check)
    check_config
    say "configuration ok: $FARM_INSTANCES instances, NGINX on port $FARM_PORT_NGINX, sockets in $FARM_SOCKET_DIR"
    ;;
  start)
    if running_pids | grep -q .; then
      die "farm is already running (pids $(running_pids | tr '\n' ' ')); stop it with ./farm_stop.sh, or use --reload"
    fi
    check_config
    check_free
    prepare_socket_dir
    check_nginx_access
    prepare_write_token
    backup_logs start
    trap 'say "start failed: stopping what was started"; stop_all || true' ERR
    for i in $(seq 1 "$FARM_INSTANCES"); do
      start_instance "$i"
    done
    for i in $(seq 1 "$FARM_INSTANCES"); do
      wait_ready "$i"
    done
    write_targets
    start_nginx
    cp "$LOGS/nginx.conf" "$LOGS/nginx.conf.running"
    wait_nginx
    save_settings
    trap - ERR
    say "farm is up: http://127.0.0.1:$FARM_PORT_NGINX/ ($FARM_INSTANCES instances, $FARM_TRANSPORT, logs in logs/)"
    ;;
  revive)
    running_pids | grep -q . || die "farm is not running: start it with ./farm_start.sh"
    prepare_socket_dir
    public_url
    n=0
    for i in $(seq 1 "$FARM_INSTANCES"); do
      ours "$LOGS/farm_$i.pid" && continue
      start_instance "$i"
      wait_ready "$i"
      say "instance $i started again"
      n=$((n + 1))
    done
    say "$n of $FARM_INSTANCES instances started again"
    ;;
  reload)
    running_pids | grep -q . || die "farm is not running: start it with ./farm_start.sh"
    check_config
    prepare_socket_dir
    check_nginx_access
    prepare_write_token
    for i in $(seq 1 "$FARM_INSTANCES"); do
      stop_instance "$i"
      start_instance "$i"
      wait_ready "$i"
      say "instance $i replaced"
      # NGINX keeps an instance that failed a request (it was stopping)
      # out for fail_timeout, 2 s: wait until it takes this one again
      # before the next goes.
      [ "$i" -lt "$FARM_INSTANCES" ] && wait_taken "$i"
    done
    # Fewer instances than before: the others go once NGINX no longer
    # sends them anything (after its reload below).
    extra=()
    for f in "$LOGS"/farm_*.pid; do
      [ -f "$f" ] || continue
      i=${f#"$LOGS"/farm_}
      i=${i%.pid}
      [ "$i" -gt "$FARM_INSTANCES" ] && extra+=("$i")
    done
    write_targets
    # Reload NGINX only when its configuration changed (check_config wrote
    # the new one): a reload closes its clients' idle connections.
    if ! cmp -s "$LOGS/nginx.conf" "$LOGS/nginx.conf.running" 2>/dev/null; then
      reload_nginx
      # NGINX applies a reload on its own (binding a new port, say) and
      # keeps the old configuration when it cannot: ask it.
      wait_nginx || die "NGINX did not take the new configuration (see logs/nginx_error.log); it runs the one in logs/nginx.conf.running"
      cp "$LOGS/nginx.conf" "$LOGS/nginx.conf.running"
      say "NGINX reloaded with the new configuration"
    fi
    for i in ${extra[@]+"${extra[@]}"}; do
      stop_instance "$i"
    done
    save_settings
    say "rolling restart done: $FARM_INSTANCES instances"
    ;;
esac
