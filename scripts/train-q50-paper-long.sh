#!/usr/bin/env bash
# Long runs of jpeg-q50-paper (64 x 20) across sessions, each from a shipped jpeg-q50-paper (the
# recipe names the commit), at compact quality 50 with the training images also
# at 0.5 and 0.35 of their size, the learning curve every 2,000 steps. Detached and resumable
# (the same command continues the run from its last checkpoint; on a fresh checkout from a run
# parked with scripts/park-run.sh):
#   setsid nohup scripts/train-q50-paper-long.sh [hard|hard2|hard3|texture|anneal] > runs/paper-long.log 2>&1 &
# Recipes:
#   (none)  from 503d47d's model (scripts/train-q50-paper-grown.sh): STEPS (default 30,000,
#           about 5 hours at 0.57 s a step), 1.5e-4 -> 1e-5, seed 803, uniform patches; into
#           runs/paper-long/jpeg-q50
#   hard    from 503d47d's model: STEPS (default 6,000, about an hour), 1e-4 -> 1e-5, seed 804,
#           each patch the hardest of 4 random windows (--patch-candidates 4); into
#           runs/paper-hard/jpeg-q50 (shipped in 2935f01)
#   hard2   from 2935f01's model (the hard run's): STEPS (default 10,000, about 95 minutes),
#           1e-4 -> 1e-5, seed 805, --patch-candidates 4; into runs/paper-hard2/jpeg-q50
#           (shipped in 81ef9e6)
#   hard3   from 81ef9e6's model (hard2's): STEPS (default 10,000), 5e-5 -> 1e-5 (each restart
#           at 1e-4 dipped 0.03 dB for its first 2,000 steps), seed 806, --patch-candidates 4;
#           into runs/paper-hard3/jpeg-q50 (shipped in 1535e40)
#   texture as hard3, from 1535e40's model (hard3's), seed 807, STEPS default 8,000, with the
#           split train-texture added (scripts/fetch-data.sh --texture: 9 small photographs
#           dense with edges and texture); into runs/paper-texture/jpeg-q50 (not shipped)
#   anneal  from 1535e40's model, the texture recipe below the other runs' final rate: STEPS
#           (default 3,000), 1e-5 -> 1e-6, seed 808; into runs/paper-anneal/jpeg-q50 (not
#           shipped; docs/training.md)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup_cli release
split=train,train-video
case "${1:-}" in
"")
    runs=runs/paper-long from=503d47d
    recipe=(--steps "${STEPS:-30000}" --rec-lr 1.5e-4:1e-5 --seed 803)
    ;;
hard)
    runs=runs/paper-hard from=503d47d
    recipe=(--steps "${STEPS:-6000}" --rec-lr 1e-4:1e-5 --seed 804 --patch-candidates 4)
    ;;
hard2)
    runs=runs/paper-hard2 from=2935f01
    recipe=(--steps "${STEPS:-10000}" --rec-lr 1e-4:1e-5 --seed 805 --patch-candidates 4)
    ;;
hard3)
    runs=runs/paper-hard3 from=81ef9e6
    recipe=(--steps "${STEPS:-10000}" --rec-lr 5e-5:1e-5 --seed 806 --patch-candidates 4)
    ;;
texture)
    runs=runs/paper-texture from=1535e40 split=train,train-video,train-texture
    recipe=(--steps "${STEPS:-8000}" --rec-lr 5e-5:1e-5 --seed 807 --patch-candidates 4)
    extra_split train-texture
    ;;
anneal)
    runs=runs/paper-anneal from=1535e40 split=train,train-video,train-texture
    recipe=(--steps "${STEPS:-3000}" --rec-lr 1e-5:1e-6 --seed 808 --patch-candidates 4)
    extra_split train-texture
    ;;
*) echo "usage: $0 [hard|hard2|hard3|texture|anneal]" >&2; exit 2 ;;
esac
start="$runs/jpeg-q50-paper-start.cnnmodel"
model_at "$from" jpeg-q50-paper "$start"
bash scripts/park-run.sh restore "$runs/jpeg-q50"
"$bin" train --out "$runs/jpeg-q50" --quality 50 --init "$start" \
  --split "$split" --stages 1 "${recipe[@]}" --batch 16 --patch 40 \
  --scales 1,0.5,0.35 --checkpoint-every 250 --curve-every 2000 --name jpeg-q50-paper
