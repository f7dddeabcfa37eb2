#!/usr/bin/env bash
# Where the gap between the project's q50 RecCNN and the paper authors' released one lies
# (docs/experiments.md, "Where the gap to the released model lies"), on the paper's four images at compact
# quality 50, and how the BD-PSNR gap splits between the two networks. Needs ../shared/reference.
# About 10 minutes here; with --long also the
# training-form losses on 96x96 patches, the released RecCNN trained 300 steps on our data
# (1e-5) and re-measured with its own statistics put back, and its statistics measured afresh
# at two scales (about 40 minutes more).
#   [OURS=MODEL] scripts/measure-gap.sh [--long]     (writes runs/gap/; OURS: default the
#   shipped models/jpeg-q50-paper.cnnmodel)
set -euo pipefail
cd "$(dirname "$0")/.."
ref=../shared/reference
[ -d "$ref/official-qf50" ] || { echo "measure-gap: $ref/official-qf50 is missing" >&2; exit 1; }
. scripts/lib.sh
setup_cli debug
ours=${OURS:-models/jpeg-q50-paper.cnnmodel}
rel=$ref/official-qf50
out=runs/gap
mkdir -p $out
combine() { python3 scripts/combine-networks.py "$@" >/dev/null; }
combine --comcnn $rel --reccnn $rel --no-reccnn $out/released-no-reccnn
combine --comcnn $ours --reccnn $ours --no-reccnn $out/ours-no-reccnn
combine --comcnn $ours --reccnn $rel $out/ours-com-released-rec
point() { # NAME MODEL [IMAGES...]: PSNR-Y and bpp at q50
  local name=$1 model=$2; shift 2
  $bin eval --model "$model@50" --name "$name" --jpeg-qualities 10 --out $out/eval-$name "$@" 2>/dev/null |
    awk -F'|' -v n="$name" '$2 ~ "framework|"n {gsub(/ /,"",$4); gsub(/ /,"",$5); print n": "$5" dB at "$4" bpp"}'
}
point released-no-reccnn $out/released-no-reccnn $ref/images
point ours-no-reccnn $out/ours-no-reccnn $ref/images
point ours $ours $ref/images
point ours-com-released-rec $out/ours-com-released-rec $ref/images
# BD-PSNR over compact qualities 10-70: the released RecCNN behind our ComCNN against ours (the
# RecCNNs' share of the gap), and the released pair against that (the ComCNNs' share).
sweep() { # NAME MODEL OTHER-NAME OTHER-MODEL: BD of OTHER against NAME
  $bin eval --model "$2@10,20,30,40,50,60,70" --name "$1" --also-model "$4@10,20,30,40,50,60,70" \
    --also-name "$3" --jpeg-qualities 10 --out "$out/sweep-$1-$3" $ref/images 2>/dev/null |
    grep "^BD $3 vs $1 (psnr-y)"
}
sweep ours $ours ours-com-released-rec $out/ours-com-released-rec
sweep ours-com-released-rec $out/ours-com-released-rec released $rel
# Training-form loss of both RecCNNs on the same batches of training patches (lr 1e-12: the
# weights do not move). STEPS SEED BATCH PATCH
losses() {
  for m in ours:$ours released:$out/ours-com-released-rec; do
    n=${m%%:*}; rm -rf $out/loss-$n-$4
    $bin train --out $out/loss-$n-$4 --quality 50 --split train,train-video --init "${m#*:}" --stages 1 \
      --steps $1 --rec-lr 1e-12 --seed $2 --checkpoint-every 0 --batch $3 --patch $4 >/dev/null 2>&1
    awk -F'loss=' -v n=$n -v b=$3 -v p=$4 '{split($2,a," "); s+=a[1]; c++}
      END {printf "%s: mean training-form loss %.4e over %d batches of %d %dx%d patches\n", n, s/c, c, b, p, p}' \
      $out/loss-$n-$4/train.log
  done
}
losses 60 70 16 40
[ "${1:-}" = --long ] || exit 0
losses 40 71 4 96
rm -rf $out/fine-tune
$bin train --out $out/fine-tune --quality 50 --split train,train-video --init $out/ours-com-released-rec \
  --stages 1 --steps 300 --rec-lr 1e-5 --seed 60 --checkpoint-every 100 --batch 16 --patch 40 >/dev/null 2>&1
point fine-tuned $out/fine-tune/model.cnnmodel $ref/images
combine --comcnn $ours --reccnn $out/fine-tune/model.cnnmodel --stats $rel $out/fine-tuned-released-stats
point fine-tuned-released-stats $out/fine-tuned-released-stats $ref/images
for s in 1 0.5; do
  $bin recalibrate --model $out/fine-tune/model.cnnmodel --out $out/fine-tuned-stats-$s.cnnmodel --scale $s \
    $([ $s = 1 ] && echo "--batch 128 --batches 40" || echo "--batches 100") >/dev/null
  point fine-tuned-stats-$s $out/fine-tuned-stats-$s.cnnmodel $ref/images
done
