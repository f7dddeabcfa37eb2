#!/usr/bin/env bash
# The shipped JPEG models (models/jpeg-q*.cnnmodel, jpeg-q50-fast): the paper's alternation
# continued from the first ladder, into runs/, on the CPU:
#  1. jpeg-mixed-c: from the first ladder's jpeg-q50 (models/bases/jpeg-q50-v1.cnnmodel, made by
#     scripts/train-ladder.sh; the run named it by its built-in name of the time, jpeg-q50, with
#     the same content hash), a ComCNN stage (600 steps through the frozen
#     RecCNN with the codec as identity, the paper's surrogate; lr 1e-4 -> 1e-5), then a
#     RecCNN stage (600 steps, stock jpegenc/jpegdec at qualities 10-70 in turn, 1e-3 -> 1e-5);
#  2. jpeg-qN: jpeg-mixed-c's RecCNN fine-tuned at each compact quality N (150 steps);
#  3. jpeg-q50-fast: a 16 x 3 RecCNN behind jpeg-mixed-c's ComCNN (2,000 steps at q50), so the
#     CPU-class model decodes the ladder's streams. The trained ComCNN suits the 32 x 10
#     RecCNN better than the small one: this fast model is 1.3 dB below the ladder at q50 on
#     dev-eval (the first ladder's fast was 0.2 dB below its ladder).
# jpeg-mixed-c is kept as models/bases/jpeg-mixed-c.cnnmodel: copy it to
# runs/jpeg-mixed-c/model.cnnmodel to run steps 2 and 3 without re-making it.
# Re-running resumes every unfinished run from its checkpoint.
#   scripts/train-ladder-comcnn.sh [QUALITY...|fast]     (default: 10 20 30 50 70, then fast)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli debug
# These runs used burn's generic convolution backward (they predate src/train/fastconv/, whose
# im2col backward is the default now: same maths, different rounding); the flag keeps theirs.
common=(--split train,train-video --batch 16 --patch 40 --conv-backward generic)
points=(${@:-10 20 30 50 70 fast})
[ -f runs/jpeg-mixed-c/model.cnnmodel ] || \
$bin train --out runs/jpeg-mixed-c --quality 30 --mix-qualities 10,20,30,50,70 \
  --init models/bases/jpeg-q50-v1.cnnmodel --first-stage com --stages 2 --steps 600 --com-lr 1e-4:1e-5 \
  --rec-lr 1e-3:1e-5 --seed 2 --name jpeg-mixed-c "${common[@]}"
for q in "${points[@]}"; do
  if [ "$q" = fast ]; then
    $bin train --out runs/jpeg-q50-fast-c --quality 50 --init runs/jpeg-mixed-c/model.cnnmodel \
      --features 16 --depth 3 --stages 1 --steps 2000 --rec-lr 1e-3:1e-5 --seed 1 \
      --name jpeg-q50-fast "${common[@]}"
  else
    $bin train --out "runs/jpeg-q$q-c" --quality "$q" --init runs/jpeg-mixed-c/model.cnnmodel \
      --stages 1 --steps 150 --rec-lr 1e-4:1e-5 --seed "$q" --name "jpeg-q$q" "${common[@]}"
  fi
done
