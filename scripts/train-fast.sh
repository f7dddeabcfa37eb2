#!/usr/bin/env bash
# The CPU-class model `fast` (models/jpeg-q50-fast.cnnmodel) with a ComCNN of its own, into
# runs/fast/, on the CPU:
#  1. grown: the previous `fast` (16 x 3, behind the ladder's ComCNN; models/jpeg-q50-fast.cnnmodel
#     as of commit 583b144, taken from git) grown to 16 features x 4 layers computing the same
#     function (Net2Net), then 6,000 RecCNN steps at compact quality 50 (1e-3 -> 1e-5);
#  2. jpeg-q50-fast: a ComCNN stage through that small RecCNN (3,000 steps, codec as identity,
#     1e-4 -> 1e-5), then a RecCNN stage with the real codec (3,000 steps, 3e-4 -> 1e-5), so
#     that the compact image suits the small RecCNN rather than the ladder's 32 x 10 one.
# Its streams are its own (comcnnenc model=fast ! jpegenc quality=50, reccnndec model=fast).
# Re-running resumes an unfinished run from its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d data/splits ] || [ -d ../shared/data/splits ] || bash scripts/fetch-data.sh
cargo build --release -p cnncodec-cli --locked
bin=target/release/cnncodec
mkdir -p runs/fast
start=runs/fast/start.cnnmodel
[ -f "$start" ] || git show 583b144:models/jpeg-q50-fast.cnnmodel > "$start"
common=(--quality 50 --split train,train-video --batch 16 --patch 40 --checkpoint-every 250)
[ -f runs/fast/grown/model.cnnmodel ] || "$bin" train --out runs/fast/grown --init "$start" \
  --rec-init grow --features 16 --depth 4 --stages 1 --steps 6000 --rec-lr 1e-3:1e-5 --seed 161 \
  --curve-every 2000 --name jpeg-q50-fast-grown "${common[@]}"
[ -f runs/fast/jpeg-q50-fast/model.cnnmodel ] || "$bin" train --out runs/fast/jpeg-q50-fast \
  --init runs/fast/grown/model.cnnmodel --first-stage com --stages 2 --steps 3000 \
  --com-lr 1e-4:1e-5 --rec-lr 3e-4:1e-5 --seed 162 --curve-every 1000 --name jpeg-q50-fast "${common[@]}"
