#!/usr/bin/env bash
# Record a camera around the clock into rotating Matroska segments of ComCNN + JPEG.
#   examples/record-camera.sh [DIR] [SEGMENT_SECONDS] [MODEL]
# Source: RTSP_URL if set (rtspsrc ! decodebin), else /dev/video0 if present (v4l2src), else a
# live test camera (352x288, 10 frames/s, NV12). DIR default `recordings`, segments of
# SEGMENT_SECONDS (default 60) named camera-00000.mkv, ...; MODEL a built-in model (default:
# the default model; `cnncodec models` lists their rates). Stop with Ctrl-C (the open segment
# is finished); a power loss loses at most the frame being written: every frame carries the
# original size, the model and a checksum, so each segment restores alone
# (examples/play-segment.sh) and the set plays as one (examples/seek.sh).
# DURATION=SECONDS stops by itself after that long.
set -euo pipefail
dir=${1:-recordings}
segment=${2:-60}
model=${3:-}
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$(cd "$(dirname "$0")/.." && pwd)/target/debug}"
mkdir -p "$dir"
if [ -n "${RTSP_URL:-}" ]; then
  source="rtspsrc location=$RTSP_URL ! decodebin ! videoconvert ! video/x-raw,format=I420"
elif [ -e /dev/video0 ]; then
  # NV12 and YUY2, what webcams deliver, go in without conversion; others are converted.
  source="v4l2src ! videoconvert ! video/x-raw,format={NV12,YUY2,I420}"
else
  source="videotestsrc is-live=true pattern=ball ! video/x-raw,format=NV12,width=352,height=288,framerate=10/1"
fi
# shellcheck disable=SC2086 # $source is a pipeline fragment: split on purpose
${DURATION:+timeout -s INT "$DURATION"} gst-launch-1.0 -e $source \
  ! cnnjpegenc ${model:+model=$model} \
  ! splitmuxsink muxer=matroskamux max-size-time=$((segment * 1000000000)) \
    location="$dir/camera-%05d.mkv"
