#!/usr/bin/env bash
# Archive a video as standard Motion JPEG of ComCNN's compact frames in Matroska.
#   examples/archive.sh MODEL [INPUT] [OUTPUT.mkv] [QUALITY]
# MODEL: a .cnnmodel file or a directory with comcnn.safetensors + reccnn.safetensors.
# INPUT: any file decodebin reads (default: a synthetic 352x288 clip).
# The original size and the model travel in the file's tags; playback needs no settings.
set -euo pipefail
model=${1:?usage: examples/archive.sh MODEL [INPUT] [OUTPUT.mkv] [QUALITY]}
input=${2:-}
output=${3:-archive.mkv}
quality=${4:-50}
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$(cd "$(dirname "$0")/.." && pwd)/target/debug}"
if [ -n "$input" ]; then
  source="filesrc location=$input ! decodebin ! videoconvert ! video/x-raw,format=I420"
else
  source="videotestsrc num-buffers=20 pattern=ball ! video/x-raw,format=I420,width=352,height=288,framerate=10/1"
fi
# shellcheck disable=SC2086 # $source is a pipeline fragment: split on purpose
gst-launch-1.0 -e $source \
  ! comcnnenc model-location="$model" \
  ! jpegenc quality="$quality" idct-method=islow \
  ! matroskamux ! filesink location="$output"
