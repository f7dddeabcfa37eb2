#!/usr/bin/env bash
# Play back (or re-encode) an archive made by examples/archive.sh: the stock JPEG decoder,
# then reccnndec restores the original size with the model the file names.
#   examples/playback.sh ARCHIVE.mkv [OUTPUT.mkv]
# Without OUTPUT the frames go to a window (autovideosink); with it, as raw video in
# Matroska, for measuring.
set -euo pipefail
archive=${1:?usage: examples/playback.sh ARCHIVE.mkv [OUTPUT.mkv]}
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$(cd "$(dirname "$0")/.." && pwd)/target/debug}"
if [ -n "${2:-}" ]; then
  sink="matroskamux ! filesink location=$2"
else
  sink="videoconvert ! autovideosink"
fi
gst-launch-1.0 filesrc location="$archive" ! matroskademux \
  ! jpegdec idct-method=islow ! reccnndec ! $sink
