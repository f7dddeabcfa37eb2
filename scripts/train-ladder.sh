#!/usr/bin/env bash
# Trains the shipped models exactly as they were made (see models/README.md), into runs/:
# the JPEG ladder (one RecCNN per compact quality, fine-tuned from the paper authors'
# released model with the stock jpegenc/jpegdec in the loop) and the CPU-class `fast` model
# (a 16-feature, 6-layer RecCNN trained from scratch behind the same ComCNN).
# Re-running resumes every unfinished run from its checkpoint. Then copy
# runs/<name>/model.cnnmodel to models/<name>.cnnmodel and run scripts/measure-models.sh.
#   scripts/train-ladder.sh [QUALITY...]     (default: 10 20 30 50 70 and fast)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d data/splits ] || [ -d ../shared/data/splits ] || bash scripts/fetch-data.sh
released=${CNNCODEC_REFERENCE:-../shared/reference}/official-qf50
[ -d "$released" ] || { echo "needs the released model at $released (set CNNCODEC_REFERENCE)" >&2; exit 1; }
cargo build -p cnncodec-cli --locked
bin=target/debug/cnncodec
for q in "${@:-10 20 30 50 70 fast}"; do
  for one in $q; do
    if [ "$one" = fast ]; then
      $bin train --out runs/jpeg-q50-fast --quality 50 --split train,train-video \
        --init "$released" --features 16 --depth 6 --stages 1 --steps 1500 --batch 16 \
        --patch 40 --rec-lr 1e-3:1e-5 --seed 7 --name jpeg-q50-fast
    else
      $bin train --out "runs/jpeg-q$one" --quality "$one" --split train,train-video \
        --init "$released" --stages 1 --steps 240 --batch 16 --patch 40 \
        --rec-lr 1e-4:1e-5 --seed "$one" --name "jpeg-q$one"
    fi
  done
done
