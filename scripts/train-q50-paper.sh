#!/usr/bin/env bash
# jpeg-q50-paper: a paper-size (64 x 20) RecCNN behind the default model's ComCNN, on the CPU
# (about 15 + 75 + 65 minutes here), into runs/:
#  1. jpeg-q50-long: the default jpeg-q50's RecCNN (32 x 10) trained on at compact quality 50,
#     the first 1,500 steps of a 5,000-step schedule (3e-4 -> 1e-5; --stop-after leaves the
#     checkpoint an interruption would, which is what the shipped run grew from);
#  2. jpeg-q50-grown: that RecCNN grown to 64 features x 20 layers computing the same function
#     (--rec-init grow, Net2Net), then 1,500 steps at quality 50 (3e-4 -> 1e-5);
#  3. jpeg-q50-paper: 2,000 more steps (2e-4 -> 1e-5) on the training images at their stored
#     size and at 0.5 and 0.35 of it (--scales): smaller copies put more edges and texture in
#     each 40x40 patch, where the released model's advantage lies (README, "Where the gap to
#     the released model lies").
# The ComCNN is the ladder's (jpeg-mixed-c's), so jpeg-q50-paper decodes the default streams.
# Re-running resumes an unfinished run from its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli debug
[ -f runs/jpeg-q50-long-1500.cnnmodel ] || {
  $bin train --out runs/jpeg-q50-long --quality 50 --split train,train-video \
    --init models/jpeg-q50.cnnmodel --stages 1 --steps 5000 --rec-lr 3e-4:1e-5 --seed 51 \
    --checkpoint-every 250 --stop-after 1500
  cp runs/jpeg-q50-long/checkpoint.cnnmodel runs/jpeg-q50-long-1500.cnnmodel
}
[ -f runs/jpeg-q50-grown/model.cnnmodel ] || $bin train --out runs/jpeg-q50-grown --quality 50 --split train,train-video \
  --init runs/jpeg-q50-long-1500.cnnmodel --rec-init grow --features 64 --depth 20 --stages 1 \
  --steps 1500 --rec-lr 3e-4:1e-5 --seed 52 --checkpoint-every 100 --name jpeg-q50-grown \
  --batch 16 --patch 40
$bin train --out runs/jpeg-q50-paper --quality 50 --split train,train-video \
  --init runs/jpeg-q50-grown/model.cnnmodel --stages 1 --steps 2000 --rec-lr 2e-4:1e-5 \
  --scales 1,0.5,0.35 --seed 53 --checkpoint-every 250 --name jpeg-q50-paper --batch 16 --patch 40
