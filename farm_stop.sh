#!/usr/bin/env bash
# Stop farm in production: NGINX first (no new requests), then each farm
# instance with SIGTERM (it finishes the requests in flight), waiting for
# each; then back up the logs (logs/backup/<time>-stop/). An instance that
# has not stopped after FARM_STOP_TIMEOUT seconds (default 40) is killed,
# and the script says so.
set -Eeuo pipefail
cd "$(dirname "$0")"
. scripts/stack.sh

case "${1:-}" in
  "") ;;
  -h|--help) usage; exit 0 ;;
  *) die "unknown argument $1 (farm_stop.sh takes none; see --help)" ;;
esac

stack_init --no-build
if ! running_pids | grep -q .; then
  say "farm is not running"
  clean_pidfiles
  exit 0
fi
stop_all
backup_logs stop
say "farm stopped"
