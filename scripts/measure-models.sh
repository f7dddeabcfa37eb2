#!/usr/bin/env bash
# Measures the built-in ladder (models/jpeg-qN.cnnmodel) against plain jpegenc on the dev-eval
# split, luma, and the CPU-class model swept over the same compact qualities against the
# ladder; records the result in models/dev-eval/ (rd.json, rd.svg, rd.png). The library
# compiles rd.json in, so `cnncodec models` reports these numbers; re-run after changing a model.
# Extra arguments go to `cnncodec eval`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d data/splits ] || [ -d ../shared/data/splits ] || bash scripts/fetch-data.sh
cargo build -p cnncodec-cli --locked
target/debug/cnncodec eval --split dev-eval --model builtin \
  --name "cnncodec built-in ladder" --also-model fast@10,20,30,50,70 \
  --also-name "jpeg-q50-fast, compact quality sweep" --out models/dev-eval "$@"
cargo build -p cnncodec-cli --locked   # picks up the new measurements
target/debug/cnncodec models
