#!/usr/bin/env bash
# The video evaluation of docs/video.md: three real clips (scripts/fetch-clips.sh) through
# x264enc and x265enc at the default rate ladder, plain against the framework with MODEL
# (default: the default model), into runs/video/CODEC-NAME/ (video-rd.json, plots, log).
#   [CODECS="h264 h265"] scripts/eval-video.sh [MODEL [NAME]]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-clips.sh >/dev/null
cargo build --release -p cnncodec-cli --locked
model="${1:-jpeg-q50}"
name="${2:-$(basename "$model" .cnnmodel)}"
for codec in ${CODECS:-h264 h265}; do
  out="runs/video/$codec-$name"
  mkdir -p "$out"
  target/release/cnncodec eval --codec "$codec" --model "$model" \
    --clip data/clips/tree.avi --clip data/clips/vtest.avi@600:195 \
    --clip data/clips/carphone_pristine.mp4 --out "$out" 2>&1 | grep --line-buffered -v '^eval: ' | tee "$out/log.md"
done
