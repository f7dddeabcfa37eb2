#!/usr/bin/env bash
# The simulated surveillance recording: a live CIF camera (videotestsrc is-live, 10 frames/s,
# NV12 as cameras deliver it) archived through cnnjpegenc into 1-minute Matroska segments
# for SECONDS (default 3600), the recorder's resident memory sampled every 10 s; then every
# segment is checked (frames, timestamps 100 ms apart across the whole set) and the first and
# last are restored alone through cnnjpegdec. Start it detached; it prints the summary at the end
# (also DIR/summary.txt).
#   scripts/record-soak.sh [SECONDS] [DIR]      (default: 3600 runs/record-soak)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3600}
dir=${2:-runs/record-soak}
bash scripts/install-deps.sh
cargo build -p gst-plugin-cnncodec --locked
export GST_PLUGIN_PATH=$PWD/target/debug
rm -rf "$dir" && mkdir -p "$dir"
gst-launch-1.0 -e -q videotestsrc is-live=true pattern=ball \
  ! video/x-raw,format=NV12,width=352,height=288,framerate=10/1 \
  ! cnnjpegenc ! splitmuxsink muxer=matroskamux max-size-time=60000000000 \
    location="$dir/segment-%05d.mkv" &
pid=$!
start=$(date +%s)
echo "t_s,rss_kib" > "$dir/rss.csv"
while kill -0 "$pid" 2>/dev/null && [ $(( $(date +%s) - start )) -lt "$secs" ]; do
  sleep 10
  rss=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ' || true)
  [ -n "$rss" ] && echo "$(( $(date +%s) - start )),$rss" >> "$dir/rss.csv"
done
kill -INT "$pid" 2>/dev/null || true # -e: EOS, the last segment is finalised
wait "$pid" || true

# Every segment, in order: its frames' timestamps straight from the file; over the whole
# recording they must follow each other every 100 ms (no gap inside or between segments).
: > "$dir/pts.txt"
for f in "$dir"/segment-*.mkv; do
  gst-launch-1.0 -v filesrc location="$f" ! matroskademux ! fakesink silent=false 2>/dev/null \
    | grep -o 'pts: [0-9:.]*' | awk '{split($2,t,":"); print int((t[1]*3600+t[2]*60+t[3])*1000+0.5)}' \
    >> "$dir/pts.txt"
done
total=$(wc -l < "$dir/pts.txt")
gaps=$(awk 'NR>1 && $1-prev != 100 {g++} {prev=$1} END {print g+0}' "$dir/pts.txt")
span=$(awk 'NR==1 {first=$1} {last=$1} END {printf "%.1f s to %.1f s", first/1000, last/1000}' "$dir/pts.txt")
segments=$(ls "$dir"/segment-*.mkv | wc -l)
# Every frame of every segment decodes as a JPEG (restoring all would take longer than the
# recording on two cores; the first and last segments are restored below).
decoded=0
for f in "$dir"/segment-*.mkv; do
  n=$(gst-launch-1.0 -v filesrc location="$f" ! matroskademux ! jpegdec ! fakesink silent=false 2>/dev/null \
    | grep -c 'chain' || true)
  decoded=$((decoded + n))
done
played=""
for f in $(ls "$dir"/segment-*.mkv | sed -n '1p;$p'); do
  frames=$(gst-launch-1.0 -v filesrc location="$f" ! matroskademux ! cnnjpegdec \
    ! video/x-raw,width=352,height=288 ! fakesink silent=false 2>/dev/null | grep -c 'chain' || true)
  played="$played $(basename "$f"): $frames frames restored at 352x288;"
done
rss=$(awk -F, 'NR==2 {first=$2} NR>1 {last=$2; if ($2>max) max=$2; if (min==""||$2<min) min=$2} END {printf "first %d KiB, last %d KiB, min %d, max %d", first, last, min, max}' "$dir/rss.csv")
summary="recorded ${secs} s: $segments segments, $total frames ($span), $gaps timestamp gaps, $decoded frames decoded by jpegdec; RSS $rss;$played"
echo "$summary" | tee "$dir/summary.txt"
