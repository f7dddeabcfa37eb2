#!/usr/bin/env bash
# Look at the moment something happened: the restored frame at SECONDS into a recording (one
# segment, or a quoted glob of segments played as one), as a PNG.
#   examples/seek.sh 'recordings/camera-*.mkv' 754.2 [frame.png]
set -euo pipefail
what=${1:?usage: examples/seek.sh SEGMENT.mkv|'GLOB' SECONDS [OUT.png]}
at=${2:?seconds from the start}
out=${3:-frame.png}
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$root/target/debug/cnncodec" ] || cargo build --manifest-path "$root/Cargo.toml" -p cnncodec-cli --locked
exec "$root/target/debug/cnncodec" frame --at "$at" --out "$out" "$what"
