#!/usr/bin/env bash
# Archive a video as standard Motion JPEG of ComCNN's compact frames in Matroska.
#   examples/archive.sh [MODEL] [INPUT] [OUTPUT.mkv] [QUALITY]
# MODEL: a built-in model (default jpeg-q50; `cnncodec models` lists them with their bit
# rates), a .cnnmodel file, or a directory with comcnn.safetensors + reccnn.safetensors.
# INPUT: any file decodebin reads (default: a synthetic 352x288 clip).
# QUALITY: jpegenc's quality; default: the one a built-in model is trained for (jpeg-qN: N).
# The original size and the model travel in the file's tags; playback needs no settings.
set -euo pipefail
model=${1:-jpeg-q50}
input=${2:-}
output=${3:-archive.mkv}
if [ -e "$model" ]; then
  model_prop="model-location=$model"
  quality=${4:-50}
else
  model_prop="model=$model"
  trained=${model#jpeg-q}
  quality=${4:-${trained%%-*}}
fi
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$(cd "$(dirname "$0")/.." && pwd)/target/debug}"
if [ -n "$input" ]; then
  source="filesrc location=$input ! decodebin ! videoconvert"
else
  source="videotestsrc num-buffers=20 pattern=ball ! video/x-raw,width=352,height=288,framerate=10/1 ! videoconvert"
fi
# Full-range BT.601, as JPEG stores it and jpegdec reports it: no level shift on playback.
source="$source ! video/x-raw,format=I420,colorimetry=1:4:0:0"
# shellcheck disable=SC2086 # $source is a pipeline fragment: split on purpose
gst-launch-1.0 -e $source \
  ! comcnnenc "$model_prop" \
  ! jpegenc quality="$quality" idct-method=islow \
  ! matroskamux ! filesink location="$output"
