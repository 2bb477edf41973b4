#!/usr/bin/env bash
# Build bin/farm, its version stamped with the date of the last commit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_farm
say "built $ROOT/bin/farm $("$ROOT/bin/farm" --version)"
