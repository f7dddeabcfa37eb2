#!/usr/bin/env bash
# RecCNNs for recordings (issue 20): the default model's ComCNN kept, its RecCNN trained on
# the compact frames of real clips as a camera's H.264 / H.265 encoder codes them (a running
# x264enc / x265enc, low latency, inter prediction, at RATE bits per 1000 original pixels per
# frame, default 20), decoded by the stock decoder. Frames in order: vtest.avi frames 0-580,
# every second one (the `train-video` range; evaluation uses 600 on), then all 250 of
# bikes.mp4; never tree.avi or carphone. STEPS (default 3,000) steps, 2e-4 -> 1e-5, seed 700,
# into runs/video-train/CODEC-bRATE. Detached and resumable:
#   setsid nohup scripts/train-video.sh > runs/video-train.log 2>&1 &
#   scripts/train-video.sh [CODEC...]     (default: h264 h265)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-clips.sh >/dev/null
cargo build --release -p cnncodec-cli --locked
bin=target/release/cnncodec
frames=data/clips/train-frames
extract() { # CLIP NAME W H FIRST LAST STEP
  local dir="$frames/$2" list=()
  [ -f "$dir/.done" ] && return
  mkdir -p "$dir"
  for n in $(seq "$5" "$7" "$6"); do list+=("$n:$dir/$2_f$(printf %04d "$n").png"); done
  python3 scripts/datatool.py frames --video "data/clips/$1" --width "$3" --height "$4" \
    --mode RGB --compression-level 1 "${list[@]}" >/dev/null
  touch "$dir/.done"
}
extract vtest.avi vtest 768 576 0 580 2
extract bikes.mp4 bikes 640 272 0 249 1
rate="${RATE:-20}"
steps="${STEPS:-3000}"
for codec in ${@:-h264 h265}; do
  out="runs/video-train/$codec-b$rate"
  [ -f "$out/model.cnnmodel" ] && continue
  "$bin" train --out "$out" --codec "$codec" --quality "$rate" --init jpeg-q50 --first-stage rec \
    --stages 1 --steps "$steps" --batch 16 --patch 40 --rec-lr 2e-4:1e-5 --seed 700 \
    --checkpoint-every 250 --name "$codec-b$rate" "$frames/vtest" "$frames/bikes"
done
