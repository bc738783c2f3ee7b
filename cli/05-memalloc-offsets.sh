#!/usr/bin/env bash
# Give the buffers of instances/memalloc/gaps.csv (MiniMalloc's CSV) their offsets:
# the best of the compilers' allocators, then the exact search; export the offsets
# as MiniMalloc's CSV, check that file with `optsched validate`, and draw the memory
# map when the plots extra is installed.
#
# Usage: cli/05-memalloc-offsets.sh [SCRATCH_DIR]   (default: a new mktemp -d folder)
set -euo pipefail

# shellcheck source=prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

instance="$repo/instances/memalloc/gaps.csv"
plan="$scratch/offsets"

echo "== solve $instance (3 buffers; the optimum peak is 96, the bytes live at step 2)"
for solver in best-of-k memalloc-bb; do
    optsched solve "$instance" --solver "$solver" --time-limit 10 --workers 1 --export "$plan"
done

echo "== the offsets as MiniMalloc writes them: $plan/gaps.memalloc-bb.csv"
cat "$plan/gaps.memalloc-bb.csv"

echo "== validate it"
optsched validate "$instance" "$plan/gaps.memalloc-bb.csv"

if python -c "import matplotlib" 2>/dev/null; then
    optsched plot "$instance" "$plan/gaps.memalloc-bb.csv" -o "$plan/gaps.png"
    echo "== memory map: $plan/gaps.png"
else
    echo "== no memory map: pip install -e \".[plots]\" for optsched plot"
fi
