#!/usr/bin/env bash
# Plan Llama-3-70B on one DGX H100 (8 GPUs, TPOT <= 50 ms, TTFT <= 2 s) for the most output
# tokens per second: the exact planner (parplan-exact), its launch commands exported for
# vLLM and SGLang, that file checked with `optsched validate`, the same cluster under vLLM's
# rule (TP = GPUs per node); then a generated heterogeneous cluster of 64 GPUs of 3 types,
# planned both ways, and the plan on the TPOT / tokens-per-GPU frontier when plots are
# installed.
#
# Usage: cli/07-parplan-plan.sh [SCRATCH_DIR]   (default: a new mktemp -d folder)
set -euo pipefail

# shellcheck source=prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

instance="$repo/instances/parplan/llama3-70b-8xh100.json"
plan="$scratch/plan"

echo "== plan $instance"
optsched solve "$instance" --solver parplan-exact --time-limit 10 --workers 1 --export "$plan"

exported="$plan/llama3-70b-8xh100.parplan-exact.launch.json"
echo "== the launch commands: $exported"
python -c "import json, sys
for g in json.load(open(sys.argv[1]))['replicas']:
    env = ''.join(f'{k}={v} ' for k, v in g['launch']['env'].items())
    print(f\"{g['count']} x {env}{g['launch']['vllm']}\")
    print('   predicted', g['predicted'])" "$exported"

echo "== validate it"
optsched validate "$instance" "$exported"

echo "== vLLM's rule on the same cluster"
optsched solve "$instance" --solver vllm --workers 1

echo "== a heterogeneous cluster: 64 GPUs of 3 types"
optsched generate parplan --cluster heterogeneous --gpus 64 --types 3 --seed 1 \
    --out "$scratch/generated"
generated=("$scratch"/generated/*.json)
for solver in parplan-exact vllm; do
    optsched solve "${generated[0]}" --solver "$solver" --time-limit 10 --workers 1
done

if python -c "import matplotlib" 2>/dev/null; then
    optsched plot "$instance" "$exported" -o "$plan/frontier.png"
    echo "== frontier: $plan/frontier.png"
else
    echo "== no frontier: pip install -e \".[plots]\" for optsched plot"
fi
