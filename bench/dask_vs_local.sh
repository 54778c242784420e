#!/usr/bin/env bash
# `grader grade --jobs 2` against `--executor dask` with two one-thread workers on loopback, side by side.
#
#     bench/dask_vs_local.sh [N=60] [ROUNDS=5]
#
# It writes N generated my_linear submissions (bench/grade_speed.py's generator: two thirds correct, the rest
# common mistakes, every file distinct), starts `dask scheduler` on 127.0.0.1 and two `dask worker --nthreads 1`,
# grades the class once each way to warm up (the workers import torch and start their zygotes once, as on a
# real cluster), then ROUNDS times in turn local / dask, each with --force (every submission graded again),
# and prints each run's wall time, the medians and the ratio dask/local. Both ways must give the same scores:
# the script compares the summaries' scores and stops if they differ.
#
# To time the two commands with another tool, run with KEEP=1: the script then prints both commands and leaves
# the cluster running until Enter is pressed.
set -euo pipefail

N=${1:-60}
ROUNDS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="$ROOT/.venv/bin/python"
DASK="$ROOT/.venv/bin/dask"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

"$PY" - "$ROOT/bench" "$WORK/class" "$N" <<'EOF'
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])
from grade_speed import generate

generate(Path(sys.argv[2]), int(sys.argv[3]))
EOF

setsid "$DASK" scheduler --scheduler-file "$WORK/scheduler.json" --host 127.0.0.1 --port 0 \
    --dashboard-address 127.0.0.1:0 >"$WORK/scheduler.log" 2>&1 &
PIDS+=($!)
disown
for _ in $(seq 300); do [ -s "$WORK/scheduler.json" ] && break; sleep 0.1; done
ADDRESS=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["address"])' "$WORK/scheduler.json")
for i in 1 2; do
    setsid "$DASK" worker "$ADDRESS" --nthreads 1 --host 127.0.0.1 --no-dashboard >"$WORK/worker$i.log" 2>&1 &
    PIDS+=($!)
    disown
done
"$PY" -c 'import sys; from distributed import Client; Client(sys.argv[1]).wait_for_workers(2, timeout=120)' "$ADDRESS"

LOCAL=("$PY" -m grader grade my_linear "$WORK/class" --out "$WORK/local" --jobs 2 --force)
REMOTE=("$PY" -m grader grade my_linear "$WORK/class" --out "$WORK/dask" --executor dask --scheduler "$ADDRESS" --force)

seconds() {  # wall seconds of one run of the command given, its output thrown away
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

cd "$ROOT"
seconds "${LOCAL[@]}" >/dev/null  # warm-up runs, not counted
seconds "${REMOTE[@]}" >/dev/null
"$PY" - "$WORK/local/summary.json" "$WORK/dask/summary.json" <<'EOF'
import json, sys
local, dask = (json.load(open(p)) for p in sys.argv[1:])
def scores(summary):
    return {row["id"]: row["score"] for row in summary["results"]}
assert scores(local) == scores(dask) and len(scores(local)) > 0, "the two executors gave different scores"
EOF

if [ "${KEEP:-0}" = 1 ]; then
    printf 'local: %s\ndask:  %s\n' "${LOCAL[*]}" "${REMOTE[*]}"
    read -r -p "cluster running at $ADDRESS; press Enter to stop it "
    exit 0
fi

local_times=()
dask_times=()
for round in $(seq "$ROUNDS"); do
    local_times+=("$(seconds "${LOCAL[@]}")")
    dask_times+=("$(seconds "${REMOTE[@]}")")
    printf 'round %d: local %.2f s, dask %.2f s\n' "$round" "${local_times[-1]}" "${dask_times[-1]}"
done
"$PY" - "${local_times[*]}" "${dask_times[*]}" "$N" <<'EOF'
import statistics, sys
local = statistics.median(map(float, sys.argv[1].split()))
dask = statistics.median(map(float, sys.argv[2].split()))
print(f"{sys.argv[3]} submissions: local --jobs 2 median {local:.2f} s, dask (2 workers x 1 thread) median "
      f"{dask:.2f} s, ratio dask/local {dask / local:.2f}")
EOF
