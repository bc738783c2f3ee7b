#!/usr/bin/env bash
# Place the experts of a generated MoE model (8 layers x 16 experts, top-2) on 2 nodes of
# 2 GPUs with one spare slot each: the runtimes' default, DeepSeek's EPLB and moe-lns with
# every layer capped at 1.02 x its token bound; export moe-lns's placement as the runtimes
# read it (physical_to_logical_map and the traffic tables), check that file with
# `optsched validate`, and draw the heat map of tokens per GPU when plots are installed.
#
# Usage: cli/06-moe-placement.sh [SCRATCH_DIR]   (default: a new mktemp -d folder)
set -euo pipefail

# shellcheck source=prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

optsched generate moe --layers 8 --experts 16 --redundant 1 --tokens 2048 --seed 7 \
    --out "$scratch/model"
instance="$scratch/model/moe-zipf-l8-e16-top2-t2048-s7-0.json"
plan="$scratch/plan"

echo "== place $instance"
for solver in contiguous eplb; do
    optsched solve "$instance" --solver "$solver" --workers 1
done
optsched solve "$instance" --solver moe-lns --time-limit 5 --workers 1 -m imbalance=1.02 \
    --export "$plan"

exported="$plan/moe-zipf-l8-e16-top2-t2048-s7-0.moe-lns.placement.json"
echo "== the placement as the runtimes read it: $exported"
python -c "import json, sys; d = json.load(open(sys.argv[1])); \
print('physical_to_logical_map[0] =', d['physical_to_logical_map'][0]); \
print('gpus:', [(g['gpu'], round(g['tokens'])) for g in d['gpus']])" "$exported"

echo "== validate it"
optsched validate "$instance" "$exported" -m imbalance=1.02

if python -c "import matplotlib" 2>/dev/null; then
    optsched plot "$instance" "$exported" -o "$plan/heat.png"
    echo "== heat map: $plan/heat.png"
else
    echo "== no heat map: pip install -e \".[plots]\" for optsched plot"
fi
