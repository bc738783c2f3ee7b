#!/usr/bin/env bash
# The solver service on this machine: `optsched serve` on a free loopback port with its job
# store in the scratch folder; two instance files submitted and waited for (`optsched
# submit`); a longer CP-SAT job whose verified incumbents are streamed as they are found
# (server-sent events, read with optsched.client); the same submit twice with one
# Idempotency-Key (one job); then the server killed with SIGKILL and restarted on the same
# store, which still holds every finished job.
#
# Usage: cli/08-service.sh [SCRATCH_DIR]   (needs the service extra: pip install -e ".[service]")
set -euo pipefail

# shellcheck source=prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

if ! python -c "import fastapi, uvicorn" 2>/dev/null; then
    echo "== no service: pip install -e \".[service]\" for optsched serve"
    exit 0
fi

port="$(python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")"
url="http://127.0.0.1:$port"
db="$scratch/jobs.db"
server=""
start_server() {
    optsched serve --port "$port" --db "$db" --workers 2 2>>"$scratch/server.log" &
    server=$!
    python -c "import sys, time
from optsched.client import Client, ServiceError
for _ in range(300):
    try:
        Client(sys.argv[1]).health(); sys.exit(0)
    except (OSError, ServiceError):
        time.sleep(0.1)
sys.exit('the server did not answer in 30 s')" "$url"
}
trap '[ -z "$server" ] || kill -9 "$server" 2>/dev/null || true' EXIT

echo "== optsched serve on $url, jobs in $db"
start_server

echo "== two files, waited for"
optsched submit "$repo/instances/smtt/example.json" "$repo/instances/pods/running.json" \
    --server "$url" --time-limit 10

echo "== a 40-job weighted instance on CP-SAT for 3 s: its incumbents as they come"
optsched generate smtt --n 40 --weighted --seed 3 --out "$scratch/generated" >/dev/null
generated=("$scratch"/generated/*.json)
job="$(optsched submit "${generated[0]}" --server "$url" --solver cpsat --time-limit 3 --no-wait)"
python -c "import sys
from optsched.client import Client
for event in Client(sys.argv[1]).stream(sys.argv[2]):
    d = event['data']
    if event['event'] == 'incumbent':
        print(f\"incumbent  objective={d['objective']}  bound={d['bound']}  by={d['detail']}\")
    elif event['event'] == 'end':
        r = d['result']
        print(f\"end  {d['status']}  {r['status']}  objective={r['objective']}  verified={r['verified']}\")" \
    "$url" "$job"

echo "== the same submit twice with one Idempotency-Key"
for _ in 1 2; do
    optsched submit "$repo/instances/smtt/weighted-12.json" --server "$url" \
        --idempotency-key workflow-08 --no-wait
done

echo "== kill -9 the server, start it again on the same store"
kill -9 "$server"
wait "$server" 2>/dev/null || true
start_server
python -c "import sys
from optsched.client import Client
client = Client(sys.argv[1])
jobs = client.jobs(limit=100)['jobs']
for job in jobs:
    done = client.wait(job['id'])
    print(f\"kept  {done['id']}  {done['family']}  {done['status']}  objective={done['objective']}\")" \
    "$url"
