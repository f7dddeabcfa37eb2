#!/usr/bin/env bash
# Soak test: a long CIF run through both elements with the CPU-class model, sampling the
# process's resident memory, so a leak shows as growth.
#   scripts/soak.sh [FRAMES] [MODEL]      (default: 10000 frames, model fast)
# Prints RSS every 10 s and the growth between the first sample after warm-up and the end.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-10000}
model=${2:-fast}
bash scripts/install-deps.sh
cargo build -p gst-plugin-cnncodec --locked
export GST_PLUGIN_PATH=$PWD/target/debug
gst-launch-1.0 -q videotestsrc num-buffers="$frames" pattern=ball \
  ! video/x-raw,width=352,height=288,framerate=25/1 ! videoconvert \
  ! video/x-raw,format=I420,colorimetry=1:4:0:0 \
  ! comcnnenc model="$model" ! jpegenc quality=50 idct-method=islow \
  ! jpegdec idct-method=islow ! reccnndec model="$model" ! fakesink sync=false &
pid=$!
start=$(date +%s)
first=""
while kill -0 "$pid" 2>/dev/null; do
  sleep 10
  rss=$(ps -o rss= -p "$pid" 2>/dev/null || true)
  [ -n "$rss" ] || break
  [ -n "$first" ] || first=$rss
  last=$rss
  echo "t=$(( $(date +%s) - start ))s rss=${rss} KiB"
done
wait "$pid"
secs=$(( $(date +%s) - start ))
echo "$frames frames in ${secs}s ($(( frames / (secs > 0 ? secs : 1) )) frames/s); RSS first ${first:-?} KiB, last ${last:-?} KiB, growth $(( ${last:-0} - ${first:-0} )) KiB"
