#!/usr/bin/env bash
# The README's main-job command: installs what it needs (apt), builds the CLI, then archives
# the committed sample frames with comcnnenc ! jpegenc ! matroskamux, restores them with
# matroskademux ! jpegdec ! reccnndec, and compares with plain JPEG at the same size.
# Extra arguments go to `cnncodec demo` (e.g. --model PATH, --quality Q, --out DIR, images).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build -p cnncodec-cli --locked
exec target/debug/cnncodec demo "$@"
