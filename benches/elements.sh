#!/usr/bin/env bash
# End-to-end element speed through gst-launch-1.0, on the CPU backend:
# - encode: `videotestsrc ! I420 WxH ! comcnnenc model=jpeg-q50 ! jpegenc quality=50 ! fakesink`
#   at 1280x720 and 1920x1080, beside plain `jpegenc` on the same frames;
# - decode: an archive written by `comcnnenc ! jpegenc ! matroskamux` played by
#   `filesrc ! matroskademux ! jpegdec ! reccnndec ! fakesink` at 352x288 and 1280x720, for
#   `jpeg-q50` and `fast` (jpeg-q50-fast); with --self-ensemble also the CIF `jpeg-q50` archive
#   through `reccnndec self-ensemble=mirror|mirrors|full` (2, 4 and 8 RecCNN passes a frame).
# Frames/s = frames / wall time of the whole gst-launch-1.0 run (start-up, test source and
# JPEG coding included), best of --rounds runs.
#   benches/elements.sh [--frames N] [--rounds R] [--no-build] [--self-ensemble]
set -euo pipefail
cd "$(dirname "$0")/.."
frames=120 rounds=2 build=1 ensemble=0
while [ $# -gt 0 ]; do
  case $1 in
    --frames) frames=$2 ;; --rounds) rounds=$2 ;;
    --no-build) build=0; shift; continue ;;
    --self-ensemble) ensemble=1; shift; continue ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ "$build" = 1 ] && cargo build --release -p gst-plugin-cnncodec --locked
export GST_PLUGIN_PATH=$PWD/target/release
gst-inspect-1.0 comcnnenc >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Best wall time in seconds of `gst-launch-1.0 -q $*` over the rounds.
best_time() {
  local best=
  for _ in $(seq "$rounds"); do
    local t0 t1
    t0=$(date +%s.%N)
    # shellcheck disable=SC2068 # a pipeline description: split on purpose
    gst-launch-1.0 -q $@ >/dev/null
    t1=$(date +%s.%N)
    best=$(python3 -c "import sys; t=$t1-$t0; b='$best'; print(min(t, float(b)) if b else t)")
  done
  echo "$best"
}

row() { # name, frame, seconds
  python3 -c "print(f'| $1 | $2 | {$frames / $3:.1f} | {1000 * $3 / $frames:.1f} |')"
}

echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
  "$frames frames per run, best of $rounds runs; GStreamer $(gst-launch-1.0 --version | sed -n 2p | awk '{print $2}')"
echo
echo "| pipeline | frame | frames/s | ms/frame |"
echo "| --- | --- | --- | --- |"
for size in 1280x720 1920x1080; do
  w=${size%x*} h=${size#*x}
  src="videotestsrc num-buffers=$frames ! video/x-raw,format=I420,width=$w,height=$h,framerate=30/1"
  row "videotestsrc ! jpegenc quality=50 (plain, full size)" "$size" \
    "$(best_time "$src ! jpegenc quality=50 ! fakesink")"
  row "videotestsrc ! comcnnenc model=jpeg-q50 ! jpegenc quality=50" "$size" \
    "$(best_time "$src ! comcnnenc model=jpeg-q50 ! jpegenc quality=50 ! fakesink")"
done
for size in 352x288 1280x720; do
  w=${size%x*} h=${size#*x}
  for model in jpeg-q50 fast; do
    mkv=$out/$model-$size.mkv
    gst-launch-1.0 -q videotestsrc num-buffers="$frames" \
      ! "video/x-raw,format=I420,width=$w,height=$h,framerate=30/1" \
      ! comcnnenc model=$model ! jpegenc quality=50 ! matroskamux ! filesink location="$mkv" >/dev/null
    row "filesrc ! matroskademux ! jpegdec ! reccnndec ($model)" "$size" \
      "$(best_time "filesrc location=$mkv ! matroskademux ! jpegdec ! reccnndec ! fakesink")"
    if [ "$ensemble" = 1 ] && [ "$model" = jpeg-q50 ] && [ "$size" = 352x288 ]; then
      for mode in mirror mirrors full; do
        row "filesrc ! matroskademux ! jpegdec ! reccnndec self-ensemble=$mode ($model)" "$size" \
          "$(best_time "filesrc location=$mkv ! matroskademux ! jpegdec ! reccnndec self-ensemble=$mode ! fakesink")"
      done
    fi
  done
done
