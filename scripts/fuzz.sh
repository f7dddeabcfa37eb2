#!/usr/bin/env bash
# Fuzzes every input the project reads (cnncodec-fuzz, seeded): CASES cases per target (default
# 1,000,000), SEED (default 1), TARGETS (default all six). Failing inputs go to OUT/out (OUT
# defaults to runs/fuzz), one JSON summary line per target to OUT/seed-SEED.jsonl; the exit
# status is 1 when any case failed. CI's smoke run: PROFILE=debug CASES=20000 OUT=target/fuzz-smoke
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${CASES:-1000000}
SEED=${SEED:-1}
OUT=${OUT:-runs/fuzz}
PROFILE=${PROFILE:-release}
TARGETS=${TARGETS:-model tag frame-info j2k-decode j2k-encode frames}
mkdir -p "$OUT"
if [ "$PROFILE" = release ]; then
  cargo build --release --locked -p cnncodec-fuzz
else
  cargo build --locked -p cnncodec-fuzz
fi
status=0
for t in $TARGETS; do
  "target/$PROFILE/cnncodec-fuzz" "$t" --cases "$CASES" --seed "$SEED" --out "$OUT/out" \
    | tee -a "$OUT/seed-$SEED.jsonl" || status=1
done
exit $status
