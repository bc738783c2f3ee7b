#!/usr/bin/env bash
# Plan instances/pods/cluster.yaml with cpsat: the result with kube-scheduler's comparison
# (--compare) as JSON, the Eviction and Binding manifests (--manifests), then
# `optsched validate` of the cluster against the manifests just written.
#
# Usage: cli/03-pods-plan.sh [SCRATCH_DIR]   (default: a new mktemp -d folder)
set -euo pipefail

# shellcheck source=prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

cluster="$repo/instances/pods/cluster.yaml"
plan="$scratch/plan"

echo "== solve $cluster"
optsched solve "$cluster" --solver cpsat --time-limit 5 --workers 1 --json --compare \
    --manifests "$plan"

manifests="$plan/cluster.cpsat.yaml"
echo "== $manifests"
cat "$manifests"

echo "== validate the cluster against $manifests"
optsched validate "$cluster" "$manifests"
