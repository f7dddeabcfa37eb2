#!/usr/bin/env bash
# The training experiments of docs/training.md ("What moves dev-eval"), each from the ladder's
# jpeg-q50 as of commit 583b144 (taken from git) for 3,000 RecCNN steps at compact quality 50
# (batch 16, 1e-4 -> 1e-5, seed 7), then measured at quality 50 on dev-eval and on the paper's
# four images; and the JPEG proxy against the identity surrogate (a 600-step ComCNN stage, then
# 600 RecCNN steps, each swept over compact qualities 30-70). About 75 minutes on a 2-core VM; into runs/exp/.
# Re-running skips what is done and resumes what was interrupted.
#   scripts/train-experiments.sh [bn|fold|margin|full|scales|scales3|scales4|small3|hard2|hard4|hard8|proxy ...]
#   (default: all; each 3,000-step run about 5 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli release
extra_split train-full
mkdir -p runs/exp
start=runs/exp/jpeg-q50-583b144.cnnmodel
model_at 583b144 jpeg-q50 "$start"
common=(--quality 50 --init "$start" --stages 1 --steps 3000 --rec-lr 1e-4:1e-5 --seed 7
        --checkpoint-every 500 --batch 16)
one() { # NAME EXTRA...
  local name="$1"; shift
  [ -f "runs/exp/$name/model.cnnmodel" ] || "$bin" train --out "runs/exp/$name" --name "exp-$name" "${common[@]}" "$@"
  "$bin" eval --split dev-eval --model "runs/exp/$name/model.cnnmodel@50" --name "$name" \
    --out "runs/exp/$name-eval" | grep "^| $name "
  # The paper's four images too, where the released model's lead lies (never trained on).
  [ ! -d ../shared/reference/images ] || "$bin" eval --model "runs/exp/$name/model.cnnmodel@50" \
    --name "$name" --jpeg-qualities 10 --out "runs/exp/$name-paper" ../shared/reference/images |
    grep "^| $name "
}
for e in ${@:-bn fold margin full scales scales3 scales4 small3 hard2 hard4 hard8 proxy}; do
  case "$e" in
    bn) one bn --split train,train-video --patch 40 ;;
    fold) one fold --split train,train-video --patch 40 --rec-init fold ;;
    margin) one fold-m8 --split train,train-video --patch 56 --loss-margin 8 --rec-init fold ;;
    full) one full --split train,train-video,train-full --patch 40 ;;
    scales) one scales --split train,train-video --patch 40 --scales 1,0.5 ;;
    scales3) one scales3 --split train,train-video --patch 40 --scales 1,0.5,0.35 ;;
    scales4) one scales4 --split train,train-video --patch 40 --scales 1,0.5,0.35,0.25 ;;
    small3) one small3 --split train,train-video --patch 40 --scales 0.5,0.35,0.25 ;;
    hard2 | hard4 | hard8)
      one "$e" --split train,train-video --patch 40 --scales 1,0.5,0.35 --patch-candidates "${e#hard}" ;;
    proxy)
      for s in jpeg identity; do
        [ -f "runs/exp/com-$s/model.cnnmodel" ] || "$bin" train --out "runs/exp/com-$s" \
          --split train,train-video --batch 16 --patch 40 --quality 50 --init "$start" \
          --first-stage com --stages 2 --steps 600 --com-lr 1e-4:1e-5 --rec-lr 1e-4:1e-5 \
          --seed 11 --com-surrogate "$s" --checkpoint-every 200 --name "exp-com-$s"
      done
      "$bin" eval --split dev-eval \
        --model runs/exp/com-jpeg/model.cnnmodel@30,40,50,60,70 --name "ComCNN stage through the JPEG proxy" \
        --also-model runs/exp/com-identity/model.cnnmodel@30,40,50,60,70 --also-name "ComCNN stage through the identity" \
        --out runs/exp/proxy-eval | grep -E "^\| ComCNN|^BD ComCNN stage through the identity vs ComCNN"
      ;;
    *) echo "unknown experiment $e" >&2; exit 2 ;;
  esac
done
