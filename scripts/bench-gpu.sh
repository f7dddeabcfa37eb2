#!/usr/bin/env bash
# The GPU benchmark, for a machine with an NVIDIA GPU, its driver and NVRTC (see README,
# "CUDA"): builds the CUDA backend (release), checks CUDA/CPU parity, then times
#  1. ComCNN, RecCNN and the whole decode step of the paper-size networks (64 x 20) at
#     352x288, 1280x720 and 1920x1080, fp32 and fp16, batch 1: ms/frame, frames/s, GFLOP/s
#     (compare with the card's peak, printed below);
#  2. end to end, `gst-launch-1.0` with both elements on the GPU around jpegenc/jpegdec, with
#     the built-in jpeg-q50 model and with the paper's released model when ../shared is there.
# Results go to stdout and to $OUT (or bench-gpu-out/) as bench-gpu.md.
#   scripts/bench-gpu.sh [FRAMES]        (default 20 network frames, 100 pipeline frames)
set -euo pipefail
cd "$(dirname "$0")/.."
frames="${1:-20}"
out="${OUT:-bench-gpu-out}"
mkdir -p "$out"
log="$out/bench-gpu.md"
command -v gst-launch-1.0 >/dev/null || bash scripts/install-deps.sh
cargo build --release --locked -p cnncodec-cli -p gst-plugin-cnncodec --features cuda
{
  echo "# GPU benchmark, $(date -u +%F) commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  echo
  echo "Peak (NVIDIA H200 SXM datasheet, dense): FP32 67 TFLOP/s, FP16/BF16 tensor cores 989 TFLOP/s."
  echo
} | tee "$log"
cargo test --release --locked -p cnncodec --features cuda --test cuda_parity -- --nocapture 2>&1 \
  | grep -E "decode|test result" | tee -a "$log"
for precision in fp32 fp16; do
  echo | tee -a "$log"
  target/release/cnncodec bench --backend cuda --precision "$precision" --frames "$frames" \
    --sizes 352x288,1280x720,1920x1080 | tee -a "$log"
done
export GST_PLUGIN_PATH=$PWD/target/release
models=("model=jpeg-q50")
[ -d ../shared/reference/official-qf50 ] && models+=("model-location=../shared/reference/official-qf50")
echo -e "\n| pipeline model | precision | frame | frames | seconds | frames/s |\n| --- | --- | --- | --- | --- | --- |" | tee -a "$log"
for model in "${models[@]}"; do
  for precision in fp32 fp16; do
    for size in 352x288 1280x720 1920x1080; do
      w=${size%x*} h=${size#*x} n=100
      start=$(date +%s.%N)
      gst-launch-1.0 -q videotestsrc num-buffers=$n pattern=ball \
        ! video/x-raw,format=I420,width=$w,height=$h \
        ! comcnnenc backend=cuda precision=$precision $model \
        ! jpegenc quality=50 idct-method=islow ! jpegdec idct-method=islow \
        ! reccnndec backend=cuda precision=$precision $model ! fakesink sync=false
      end=$(date +%s.%N)
      awk -v m="$model" -v p="$precision" -v s="$size" -v n=$n -v a="$start" -v b="$end" \
        'BEGIN { printf "| %s | %s | %s | %d | %.2f | %.1f |\n", m, p, s, n, b - a, n / (b - a) }' \
        | tee -a "$log"
    done
  done
done
