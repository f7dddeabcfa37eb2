#!/usr/bin/env bash
# Play one segment of a recording on its own (examples/record-camera.sh), or a whole set with
# a quoted glob: cnnjpegdec restores each frame at its original size with the model it names.
#   examples/play-segment.sh recordings/camera-00003.mkv
#   examples/play-segment.sh 'recordings/camera-*.mkv'
# To a window when there is a display, else it counts the restored frames.
set -euo pipefail
what=${1:?usage: examples/play-segment.sh SEGMENT.mkv | 'GLOB'}
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$(cd "$(dirname "$0")/.." && pwd)/target/debug}"
case "$what" in
  *'*'*) source="splitmuxsrc location=$what" ;;
  *) source="filesrc location=$what ! matroskademux" ;;
esac
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  # shellcheck disable=SC2086
  exec gst-launch-1.0 $source ! cnnjpegdec ! videoconvert ! autovideosink
fi
# shellcheck disable=SC2086
gst-launch-1.0 -v $source ! cnnjpegdec ! fakesink silent=false 2>&1 \
  | awk '/GstRecCnnDec.*src: caps/ {match($0, /width=\(int\)[0-9]+, height=\(int\)[0-9]+/); size=substr($0, RSTART, RLENGTH)}
         /chain/ {n++} /WARNING|ERROR/ {print}
         END {print n+0 " frames restored (" size ")"}'
