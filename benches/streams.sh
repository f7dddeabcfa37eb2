#!/usr/bin/env bash
# Several cameras on one box: N streams in one gst-launch-1.0 process (they share one loaded
# model), on the CPU backend, release build, default model (jpeg-q50):
# - encode: N x `videotestsrc ! I420 WxH ! cnnjpegenc ! fakesink`;
# - decode: N x `filesrc ! matroskademux ! cnnjpegdec ! fakesink` of an archive cnnjpegenc made.
# Frames/s = all streams' frames / wall time of the process (start-up included); RSS = the
# process's peak resident memory (GNU time). Keep the machine otherwise idle.
#   benches/streams.sh [--streams 1,2,4,8] [--no-build]
# Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
streams="1,2,4,8" build=1
while [ $# -gt 0 ]; do
  case $1 in
    --streams) streams=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$build" = 1 ] && cargo build --release -p gst-plugin-cnncodec --locked
export GST_PLUGIN_PATH=$PWD/target/release
gst-inspect-1.0 cnnjpegenc >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# "seconds peak_kib" of gst-launch-1.0 -q $*
measure() {
  /usr/bin/time -f "%e %M" -o "$out/time" gst-launch-1.0 -q "$@" >/dev/null
  cat "$out/time"
}

echo "| streams | size | encode frames/s (all streams) | encode RSS MiB | decode frames/s (all streams) | decode RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- |"
for size in 352x288 1280x720; do
  w=${size%x*} h=${size#*x}
  # Frames per stream: a few seconds of work on two cores at either size.
  if [ "$w" -le 352 ]; then enc_frames=300 dec_frames=40; else enc_frames=60 dec_frames=4; fi
  caps="video/x-raw,format=I420,width=$w,height=$h,framerate=25/1"
  gst-launch-1.0 -q videotestsrc num-buffers="$dec_frames" pattern=ball ! "$caps" \
    ! cnnjpegenc ! matroskamux ! filesink location="$out/$size.mkv"
  for n in ${streams//,/ }; do
    enc=() dec=()
    for _ in $(seq "$n"); do
      enc+=(videotestsrc num-buffers="$enc_frames" pattern=ball ! "$caps" ! cnnjpegenc ! fakesink sync=false)
      dec+=(filesrc location="$out/$size.mkv" ! matroskademux ! cnnjpegdec ! fakesink sync=false)
    done
    read -r es ek <<< "$(measure "${enc[@]}")"
    read -r ds dk <<< "$(measure "${dec[@]}")"
    awk -v n="$n" -v size="$size" -v ef="$enc_frames" -v df="$dec_frames" \
      -v es="$es" -v ek="$ek" -v ds="$ds" -v dk="$dk" \
      'BEGIN {printf "| %d | %s | %.1f | %.0f | %.2f | %.0f |\n", n, size, n*ef/es, ek/1024, n*df/ds, dk/1024}'
  done
done
