#!/usr/bin/env bash
# Generate three seeded weighted smtt instances, solve each with a heuristic (atc) and an
# exact solver (smtt-ssdp), and print both results as JSON lines.
#
# Usage: cli/02-generate-and-compare.sh [SCRATCH_DIR]   (default: a new mktemp -d folder)
set -euo pipefail

# shellcheck source=prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

generated="$scratch/generated"
echo "== generate 3 weighted 20-job instances into $generated" >&2
optsched generate smtt --n 20 --weighted --count 3 --seed 5 --out "$generated" >&2

for solver in atc smtt-ssdp; do
    echo "== $solver" >&2
    optsched solve "$generated"/*.json --solver "$solver" --time-limit 10 --workers 1 --json
done
