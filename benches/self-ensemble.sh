#!/usr/bin/env bash
# Decoding speed of reccnndec's self-ensemble modes on the CPU backend: an archive of CIF frames
# written by `comcnnenc model=jpeg-q50 ! jpegenc ! matroskamux`, played by
# `filesrc ! matroskademux ! jpegdec ! reccnndec self-ensemble=MODE ! fakesink` for MODE off,
# mirror, mirrors and full. Frames/s = frames / wall time of the whole gst-launch-1.0 run, best
# of --rounds runs; the ratio to `off` is what to compare between machines.
#   benches/self-ensemble.sh [--frames N] [--rounds R] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
frames=30 rounds=2 build=1
while [ $# -gt 0 ]; do
  case $1 in
    --frames) frames=$2 ;; --rounds) rounds=$2 ;;
    --no-build) build=0; shift; continue ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ "$build" = 1 ] && cargo build --release -p gst-plugin-cnncodec --locked
export GST_PLUGIN_PATH=$PWD/target/release
gst-inspect-1.0 reccnndec >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
archive=$out/cif.mkv
gst-launch-1.0 -q videotestsrc num-buffers="$frames" pattern=ball \
  ! video/x-raw,format=I420,width=352,height=288 ! comcnnenc model=jpeg-q50 \
  ! jpegenc quality=50 ! matroskamux ! filesink location="$archive"
base=
for mode in off mirror mirrors full; do
  best=
  for _ in $(seq "$rounds"); do
    t0=$(date +%s.%N)
    gst-launch-1.0 -q filesrc location="$archive" ! matroskademux ! jpegdec \
      ! reccnndec self-ensemble="$mode" ! fakesink
    t1=$(date +%s.%N)
    best=$(python3 -c "t=$t1-$t0; b='$best'; print(min(t, float(b)) if b else t)")
  done
  [ -n "$base" ] || base=$best
  python3 -c "print('self-ensemble=%-8s %6.2f s  %6.2f frames/s  %.1fx the time of off' % ('$mode', $best, $frames/$best, $best/$base))"
done
