#!/usr/bin/env bash
# Measures the built-in ladders on the dev-eval split, luma, and records the results where the
# library compiles them in (so `cnncodec models` reports these numbers); re-run after changing
# a model. Extra arguments go to every `cnncodec eval`.
#  - JPEG: models/jpeg-qN against plain jpegenc, and the CPU-class model swept over the same
#    compact qualities against the ladder -> models/dev-eval/ (rd.json, rd.svg, rd.png).
#    jpeg-q10 is also run at quality 12 (0.11 bpp), so that a point of the lowest model falls
#    inside the 0.1-0.4 bpp window of the BD figures (at q10 it codes 0.099 bpp).
#  - JPEG 2000: models/j2k-rN against plain JPEG 2000 (j2kenc / openjpegdec), plain JPEG 2000
#    against plain jpegenc -> models/dev-eval-j2k/. j2k-r20 is also run at ratio 18 so that
#    four points fall inside the 0.1-0.4 bpp window of the BD figures.
#  - jpeg-q50-paper (64 x 20) against the default jpeg-q50, both swept over compact qualities
#    30-70 -> models/dev-eval-paper/.
#  - jpeg-q50-wide (48 x 12) against the default jpeg-q50, the same sweep -> models/dev-eval-wide/.
#   scripts/measure-models.sh [jpeg|j2k|paper|wide|all]
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
shift || true
. scripts/lib.sh
setup_cli release
if [ "$which" = jpeg ] || [ "$which" = all ]; then
  target/release/cnncodec eval --split dev-eval \
    --model jpeg-q10@10,12 --model jpeg-q20 --model jpeg-q30 --model jpeg-q50 --model jpeg-q70 \
    --name "cnncodec built-in ladder" --also-model fast@10,12,20,30,50,70 \
    --also-name "jpeg-q50-fast, compact quality sweep" --out models/dev-eval "$@"
fi
if [ "$which" = j2k ] || [ "$which" = all ]; then
  target/release/cnncodec eval --codec j2k --split dev-eval \
    --model j2k-r20@20,18 --model j2k-r12 --model j2k-r8 --model j2k-r6 --model j2k-r4 \
    --name "cnncodec built-in J2K ladder" --out models/dev-eval-j2k "$@"
fi
# A larger q50 model against the default, both swept over compact qualities 30-70.
against_default() { # MODEL SIZE OUT [EVAL ARGS...]
  local model=$1 size=$2 out=$3
  shift 3
  local sweep=30,40,50,60,70
  target/release/cnncodec eval --split dev-eval --model "$model@$sweep" \
    --name "$model ($size), compact quality sweep" \
    --also-model "jpeg-q50@$sweep" --also-name "jpeg-q50 (default, 32 x 14), same sweep" \
    --out "$out" "$@"
}
if [ "$which" = paper ] || [ "$which" = all ]; then
  against_default jpeg-q50-paper "64 x 20" models/dev-eval-paper "$@"
fi
if [ "$which" = wide ] || [ "$which" = all ]; then
  against_default jpeg-q50-wide "48 x 12" models/dev-eval-wide "$@"
fi
cargo build --release -p cnncodec-cli --locked   # picks up the new measurements
target/release/cnncodec models
