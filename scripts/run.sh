#!/usr/bin/env bash
# Run farm for development: build it, then "farm start" with
# conf/farm.cfg (port 44444, the embedded SQLite store in data/farm.db).
# Extra arguments go to farm, e.g. scripts/run.sh -c conf/farm_test.cfg.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_farm
cd "$ROOT"
exec bin/farm "$@" start
