#!/usr/bin/env bash
# The README's test command: installs what the build needs (apt), builds everything once, and
# runs every test. Tests read the paper's reference data from ../shared/reference (or
# $CNNCODEC_REFERENCE) and fail loudly without it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --workspace --all-targets --locked
cargo test --workspace --locked
