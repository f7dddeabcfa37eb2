#!/usr/bin/env bash
# Reproducibility of a shipped model's training: re-runs the exact command that trained
# the second ladder's `jpeg-q50-fast` (scripts/train-ladder-comcnn.sh fast; its start, the ladder's base
# jpeg-mixed-c, is models/bases/jpeg-mixed-c.cnnmodel, which the shipped run read as
# runs/jpeg-mixed-c/model.cnnmodel), interrupted half-way (--stop-after 1000,
# which leaves the checkpoint an interruption would) and resumed by running the same command
# again; then compares the loss curve with the shipped run's log (models/logs/) and the
# resulting model's dev-eval PSNR with the shipped model's. About 8 minutes here.
#   scripts/resume-demo.sh [OUT]        (default runs/resume-demo; an existing OUT is replaced)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/resume-demo}"
. scripts/lib.sh
setup_cli debug
rm -rf "$out"
# The command of scripts/train-ladder-comcnn.sh that made models/jpeg-q50-fast.cnnmodel (with
# burn's generic convolution backward, which that run used: it predates src/train/fastconv/).
train=($bin train --out "$out" --quality 50 --init models/bases/jpeg-mixed-c.cnnmodel \
  --features 16 --depth 3 --stages 1 --steps 2000 --rec-lr 1e-3:1e-5 --seed 1 \
  --name jpeg-q50-fast --split train,train-video --batch 16 --patch 40 --conv-backward generic)
"${train[@]}" --stop-after 1000
"${train[@]}"
# That model was the built-in `fast` up to commit 583b144 (models/jpeg-q50-fast.cnnmodel there).
git show 583b144:models/jpeg-q50-fast.cnnmodel > "$out/shipped.cnnmodel"
$bin eval --split dev-eval --model "$out/shipped.cnnmodel@50" --name shipped --also-model "$out/model.cnnmodel@50" \
  --also-name resumed --jpeg-qualities 5,10 --out "$out/eval" > "$out/eval.txt"
python3 scripts/compare-runs.py models/logs/jpeg-q50-fast.train.log "$out/train.log" \
  --resumed-at 1000 --rd "$out/eval/rd.json"
