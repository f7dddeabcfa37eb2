#!/usr/bin/env bash
# HEVC intra (BPG-class) on dev-eval, luma (docs/video.md): plain x265enc intra at a QP ladder
# against the framework with the HEVC models of scripts/train-hevc.sh (each at its own QP) and
# with the default model's networks (never trained for HEVC) at the same QPs; into
# runs/hevc-eval/ (rd.json, rd.svg, rd.png, log.md).
#   scripts/eval-hevc.sh [MODEL_DIR]     (default: runs/hevc; models/ for the shipped ones)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p cnncodec-cli --locked
dir="${1:-runs/hevc}"
models=()
for qp in 26 30 34 38 42; do
  f="$dir/hevc-qp$qp/model.cnnmodel"
  [ -f "$f" ] || f="$dir/hevc-qp$qp.cnnmodel"
  models+=(--model "$f")
done
out=runs/hevc-eval
mkdir -p "$out"
target/release/cnncodec eval --codec hevc "${models[@]}" --name "framework (HEVC-trained RecCNN)" \
  --also-model jpeg-q50@26,30,34,38,42 --also-name "framework (jpeg-q50, not trained for HEVC)" \
  --out "$out" 2>&1 | grep --line-buffered -v '^eval: ' | tee "$out/log.md"
