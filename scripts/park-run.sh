#!/usr/bin/env bash
# Carries an unfinished training run to a fresh checkout. Runs live in runs/, which git ignores,
# so a new machine starts without them; parking copies a run's checkpoint (weights, Adam moments,
# step and RNG), learning curve and log into parked/ (tracked), from where the training scripts
# restore it before they resume. About 2.5 MB for a 48 x 12 RecCNN run.
#   scripts/park-run.sh save RUN_DIR...      copy a stopped run into parked/RUN_DIR, `git add` it
#   scripts/park-run.sh restore RUN_DIR...   copy back where RUN_DIR has no checkpoint of its own
#   scripts/park-run.sh drop RUN_DIR...      remove parked/RUN_DIR (the run has finished)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:?usage: scripts/park-run.sh save|restore|drop RUN_DIR...}"
shift
files=(checkpoint.json checkpoint.cnnmodel checkpoint.adam curve.csv)
for run in "$@"; do
    run="${run%/}"
    parked="parked/$run"
    case "$what" in
    save)
        [ -f "$run/checkpoint.json" ] || { echo "park-run: $run has no checkpoint" >&2; exit 1; }
        mkdir -p "$parked"
        for f in "${files[@]}"; do
            [ -f "$run/$f" ] && cp "$run/$f" "$parked/$f"
        done
        [ -f "$run/train.log" ] && gzip -9 -c "$run/train.log" > "$parked/train.log.gz"
        git add "$parked"
        echo "park-run: parked $run in $parked (commit it to carry it over)"
        ;;
    restore)
        if [ ! -f "$parked/checkpoint.json" ]; then
            continue
        elif [ -f "$run/checkpoint.json" ] || [ -f "$run/model.cnnmodel" ]; then
            echo "park-run: $run has its own checkpoint; $parked left alone"
        else
            mkdir -p "$run"
            for f in "${files[@]}"; do
                [ -f "$parked/$f" ] && cp "$parked/$f" "$run/$f"
            done
            [ -f "$parked/train.log.gz" ] && gzip -dc "$parked/train.log.gz" > "$run/train.log"
            echo "park-run: restored $run from $parked"
        fi
        ;;
    drop)
        if [ -d "$parked" ]; then
            git rm -rqf "$parked"
            echo "park-run: dropped $parked"
        fi
        ;;
    *)
        echo "park-run: unknown action '$what' (save, restore or drop)" >&2
        exit 2
        ;;
    esac
done
