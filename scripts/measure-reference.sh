#!/usr/bin/env bash
# A model trained for compact quality 50 against the paper authors' released model on the
# paper's four test images (../shared/reference/images), luma, at the same bits: both swept
# over the same compact qualities through the stock jpegenc/jpegdec (islow); BD-PSNR and
# BD-rate of the released model against ours over the overlap ("second framework curve vs
# framework"), plus plain JPEG. Needs ../shared/reference (the released model is not part of
# the project).
#   scripts/measure-reference.sh [MODEL] [OUT]    (default jpeg-q50, runs/reference-<model>)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-jpeg-q50}"
out="${2:-runs/reference-$(basename "$model" .cnnmodel)}"
ref=../shared/reference
[ -d "$ref/official-qf50" ] || { echo "measure-reference: $ref/official-qf50 is missing" >&2; exit 1; }
bash scripts/install-deps.sh
cargo build --release -p cnncodec-cli --locked
sweep=30,40,50,60,70
target/release/cnncodec eval --model "$model@$sweep" --name "$model" \
  --also-model "$ref/official-qf50@$sweep" --also-name "released qf50 model" \
  --jpeg-qualities 5,8,10,12,15,20 --out "$out" "$ref/images"
