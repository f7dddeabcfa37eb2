#!/usr/bin/env bash
# A long run of jpeg-q50-paper (64 x 20) across sessions: the shipped model of commit 503d47d
# (scripts/train-q50-paper-grown.sh) trained on at compact quality 50 for STEPS steps (default
# 30,000, about 5 hours at 0.57 s a step), the training images also at 0.5 and 0.35 of their
# size, 1.5e-4 -> 1e-5, seed 803, the learning curve every 2,000 steps, into
# runs/paper-long/jpeg-q50. Detached and resumable (the same command continues the run from
# its last checkpoint; on a fresh checkout from a run parked with scripts/park-run.sh):
#   setsid nohup scripts/train-q50-paper-long.sh > runs/paper-long.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d data/splits ] || [ -d ../shared/data/splits ] || bash scripts/fetch-data.sh
cargo build --release -p cnncodec-cli --locked
bin=target/release/cnncodec
steps="${STEPS:-30000}"
runs=runs/paper-long
mkdir -p "$runs"
start="$runs/jpeg-q50-paper-start.cnnmodel"
[ -f "$start" ] || git show "503d47d:models/jpeg-q50-paper.cnnmodel" > "$start"
bash scripts/park-run.sh restore "$runs/jpeg-q50"
"$bin" train --out "$runs/jpeg-q50" --quality 50 --init "$start" \
  --split train,train-video --stages 1 --steps "$steps" --batch 16 --patch 40 \
  --rec-lr 1.5e-4:1e-5 --scales 1,0.5,0.35 --seed 803 --checkpoint-every 250 \
  --curve-every 2000 --name jpeg-q50-paper
