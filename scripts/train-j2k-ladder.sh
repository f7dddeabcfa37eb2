#!/usr/bin/env bash
# Trains the shipped JPEG 2000 models exactly as they were made (see models/README.md), into
# runs/, on the CPU, with the plugin's j2kenc and the stock openjpegdec in the loop:
#  1. j2k-mixed: started from the first JPEG ladder's jpeg-q50 (models/bases/jpeg-q50-v1.cnnmodel,
#     the built-in jpeg-q50 when this ran, named so; the project's own model: its ComCNN, kept
#     as it is so JPEG and J2K streams share one ComCNN, and its RecCNN as a starting point),
#     RecCNN trained over compact compression ratios 20, 12, 8, 6, 4 (cycling image by image);
#  2. j2k-rN: j2k-mixed's RecCNN fine-tuned at compact ratio N (the ladder; the original is
#     coded at about 2/N bpp).
# Re-running resumes every unfinished run from its checkpoint. Then copy
# runs/<name>/model.cnnmodel to models/<name>.cnnmodel and run scripts/measure-models.sh.
#   scripts/train-j2k-ladder.sh [RATIO...]     (default: 20 12 8 6 4)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli debug
# These runs used burn's generic convolution backward (they predate src/train/fastconv/, whose
# im2col backward is the default now: same maths, different rounding); the flag keeps theirs.
common=(--codec j2k --split train,train-video --stages 1 --batch 16 --patch 40 --conv-backward generic)
$bin train --out runs/j2k-mixed --quality 8 --mix-qualities 20,12,8,6,4 --init models/bases/jpeg-q50-v1.cnnmodel \
  --steps 600 --rec-lr 3e-4:1e-5 --seed 1 --name j2k-mixed "${common[@]}"
for r in ${@:-20 12 8 6 4}; do
  $bin train --out "runs/j2k-r$r" --quality "$r" --init runs/j2k-mixed/model.cnnmodel \
    --steps 150 --rec-lr 1e-4:1e-5 --seed "$r" --name "j2k-r$r" "${common[@]}"
done
