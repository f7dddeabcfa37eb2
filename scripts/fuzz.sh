#!/usr/bin/env bash
# Fuzzes every input the project reads (cnncodec-fuzz, seeded): CASES cases per target (default
# 1,000,000), SEED (default 1). Failing inputs go to runs/fuzz/out, one JSON summary line per
# target to runs/fuzz/seed-SEED.jsonl. A short CI run: CASES=3000 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${CASES:-1000000}
SEED=${SEED:-1}
TARGETS=${TARGETS:-model tag frame-info j2k-decode j2k-encode frames}
mkdir -p runs/fuzz
cargo build --release --locked -p cnncodec-fuzz
status=0
for t in $TARGETS; do
  target/release/cnncodec-fuzz "$t" --cases "$CASES" --seed "$SEED" --out runs/fuzz/out \
    | tee -a "runs/fuzz/seed-$SEED.jsonl" || status=1
done
exit $status
