#!/usr/bin/env bash
# The sixth JPEG ladder (issue 16): a ComCNN of its own for the 32 x 14 ladder, then every
# built-in JPEG model's RecCNN trained on behind it.
#  1. A ComCNN stage: the fifth ladder's jpeg-q50 (commit 2840872) with its RecCNN frozen,
#     2,000 steps through the paper's identity surrogate (3e-4 -> 1e-5, multi-scale).
#  2. Each model of the fifth ladder (and fast, jpeg-q50-wide, jpeg-q50-paper) with that
#     ComCNN in place of its own (--comcnn-from), its RecCNN trained on at its quality.
# Detached and resumable (re-run the same command; finished models are skipped):
#   setsid nohup scripts/train-ladder-new-comcnn.sh > runs/com2.log 2>&1 &
#   scripts/train-ladder-new-comcnn.sh [MODEL...]   (default: all, in this order:
#                                                    q50 q70 q30 q20 q10 fast wide paper)
# Ship with scripts/ship-model.py runs/com2/NAME/model.cnnmodel models/NAME.cnnmodel
# (jpeg-q50: runs/com2/rec-q50).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli release
runs=runs/com2
base=2840872
mkdir -p "$runs"
common=(--split train,train-video --stages 1 --batch 16 --patch 40 --scales 1,0.5
  --checkpoint-every 250)

start_of() { # the fifth ladder's model NAME from git into $start
  start="$runs/$1-start.cnnmodel"
  model_at "$base" "$1" "$start"
}

comcnn="$runs/com-q50/model.cnnmodel"
[ -f "$comcnn" ] || start_of jpeg-q50
[ -f "$comcnn" ] || "$bin" train --out "$runs/com-q50" --quality 50 --init "$start" \
  --first-stage com "${common[@]}" --steps 2000 --com-lr 3e-4:1e-5 --seed 501 \
  --curve-every 500 --name jpeg-q50-com2

# NAME QUALITY STEPS SEED [options]: NAME's RecCNN trained on behind the new ComCNN.
behind() {
  local name=$1 q=$2 steps=$3 seed=$4
  shift 4
  [ -f "$runs/$name/model.cnnmodel" ] && return
  start_of "$name"
  "$bin" train --out "$runs/$name" --quality "$q" --init "$start" \
    --comcnn-from "$comcnn" "${common[@]}" --steps "$steps" --rec-lr 2e-4:1e-5 \
    --seed "$seed" --name "$name" "$@"
}

for model in ${@:-q50 q70 q30 q20 q10 fast wide paper}; do
  case $model in
    q50) # the ComCNN stage's model holds jpeg-q50's RecCNN already
      [ -f "$runs/rec-q50/model.cnnmodel" ] || "$bin" train --out "$runs/rec-q50" --quality 50 \
        --init "$comcnn" "${common[@]}" --steps 4000 --rec-lr 2e-4:1e-5 --seed 502 \
        --curve-every 1000 --name jpeg-q50-com2 ;;
    q70) behind jpeg-q70 70 4000 670 --curve-every 1000 ;;
    q30 | q20 | q10) behind "jpeg-$model" "${model#q}" 3000 "$((600 + ${model#q}))" --curve-every 1000 ;;
    fast) behind jpeg-q50-fast 50 20000 650 --curve-every 5000 ;;
    wide) behind jpeg-q50-wide 50 3000 651 --curve-every 1000 ;;
    paper) behind jpeg-q50-paper 50 800 652 --curve-every 400 ;;
    *) echo "unknown model '$model'" >&2; exit 2 ;;
  esac
done
