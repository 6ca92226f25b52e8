#!/usr/bin/env bash
# Run every benchmark script bench/*.py with the project's venv, from the repository root.
# Files starting with "_" are helpers, not benchmarks. Stops at the first failing benchmark.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
shopt -s nullglob

scripts=()
for script in bench/*.py; do
  case ${script##*/} in _*) continue ;; esac
  scripts+=("$script")
done

if ((${#scripts[@]} == 0)); then
  echo 'bench: no benchmarks in bench/'
  exit 0
fi

for script in "${scripts[@]}"; do
  echo "== .venv/bin/python $script"
  .venv/bin/python "$script"
done
