#!/usr/bin/env bash
# Write a tiny benchmark suite (3 generated 12-job smtt instances, solvers mdd and
# smtt-bb), run it with `optsched bench`, and summarise it with `optsched report`.
#
# Usage: cli/04-bench-and-report.sh [SCRATCH_DIR]   (default: a new mktemp -d folder)
set -euo pipefail

# shellcheck source=prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

suite="$scratch/tiny.toml"
runs="$scratch/runs"
cat > "$suite" <<'TOML'
# The format is documented in optsched/bench/suite.py.
name = "tiny"
time_limit = 5
workers = 1
repetitions = 1

[[instances]]
generator = "smtt"
params = {n = 12, count = 3, seed = 7}
class = "n12"

[[solvers]]
name = "mdd"

[[solvers]]
name = "smtt-bb"
TOML

echo "== optsched bench $suite (progress on standard error)"
optsched bench "$suite" --out "$runs" --cores 2

echo "== optsched report $runs"
optsched report "$runs"
