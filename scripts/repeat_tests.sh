#!/usr/bin/env bash
# Run the project's tests N times in a row (default 20) with pytest-xdist; stop at the
# first failing run and keep its log. A flake shows up here, not in one lucky CI run.
set -u
runs=${1:-20}
log=$(mktemp -d)
for i in $(seq 1 "$runs"); do
  if ! pytest -q -p no:cacheprovider -n 2 > "$log/run_$i.log" 2>&1; then
    echo "run $i of $runs failed: $log/run_$i.log"
    tail -n 20 "$log/run_$i.log"
    exit 1
  fi
  echo "run $i: $(tail -n 1 "$log/run_$i.log")"
done
