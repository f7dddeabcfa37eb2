#!/usr/bin/env bash
# Trains the first JPEG ladder exactly as it was made (see models/README.md), into runs/, on
# the CPU, from scratch (no released weights are used). Its jpeg-q50 is kept as
# models/bases/jpeg-q50-v1.cnnmodel, the start of the shipped ladder
# (scripts/train-ladder-comcnn.sh, which adds a ComCNN stage):
#  1. jpeg-mixed: ComCNN started as a 2x2 mean down-sampler (8 features, kept as started) and a
#     32-feature, 10-layer RecCNN trained over compact JPEG qualities 10-70 (stock
#     jpegenc/jpegdec in the loop, quality cycling image by image);
#  2. jpeg-qN: jpeg-mixed's RecCNN fine-tuned at each compact quality N (the ladder);
#  3. jpeg-q50-fast: a 16-feature, 3-layer RecCNN behind the same ComCNN, trained at quality 50
#     (3 layers: 4 decoded CIF at 8-11 frames/s on this noisy 2-core VM, 3 at 14-16).
# Re-running resumes every unfinished run from its checkpoint. Then copy
# runs/<name>/model.cnnmodel to models/<name>.cnnmodel and run scripts/measure-models.sh.
#   scripts/train-ladder.sh [QUALITY...]     (default: 10 20 30 50 70, then fast)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli debug
# These runs used burn's generic convolution backward (they predate src/train/fastconv/, whose
# im2col backward is the default now: same maths, different rounding); the flag keeps theirs.
common=(--split train,train-video --stages 1 --batch 16 --patch 40 --conv-backward generic)
points=(${@:-10 20 30 50 70 fast})
# The base is needed by the per-quality models only.
if [[ " ${points[*]} " =~ [0-9] ]]; then
  $bin train --out runs/jpeg-mixed --quality 30 --mix-qualities 10,20,30,50,70 \
    --init downsampler --features 32 --com-features 8 --depth 10 --steps 1600 \
    --rec-lr 1e-3:1e-5 --seed 1 --name jpeg-mixed "${common[@]}"
fi
for q in "${points[@]}"; do
  if [ "$q" = fast ]; then
    $bin train --out runs/jpeg-q50-fast --quality 50 --init downsampler --features 16 \
      --com-features 8 --depth 3 --steps 2000 --rec-lr 1e-3:1e-5 --seed 1 \
      --name jpeg-q50-fast "${common[@]}"
  else
    $bin train --out "runs/jpeg-q$q" --quality "$q" --init runs/jpeg-mixed/model.cnnmodel \
      --steps 150 --rec-lr 1e-4:1e-5 --seed "$q" --name "jpeg-q$q" "${common[@]}"
  fi
done
