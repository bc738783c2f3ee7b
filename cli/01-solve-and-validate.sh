#!/usr/bin/env bash
# Solve instances/smtt/example.json with `auto` and with `cpsat`, write each result
# with --out, then check each result file with `optsched validate`.
#
# Usage: cli/01-solve-and-validate.sh [SCRATCH_DIR]   (default: a new mktemp -d folder)
set -euo pipefail

# shellcheck source=prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

instance="$repo/instances/smtt/example.json"
results="$scratch/results"

echo "== solve $instance (3 jobs; the optimum is 8, order 2, 1, 0)"
for solver in auto cpsat; do
    optsched solve "$instance" --solver "$solver" --time-limit 10 --workers 1 --out "$results"
done

echo "== validate each result file in $results"
for result in "$results"/*.json; do
    optsched validate "$instance" "$result"
done
