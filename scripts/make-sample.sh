#!/usr/bin/env bash
# Regenerate the demo sample in samples/: frames 610, 650, 700 and 750 (0-based,
# decode order) of OpenCV's surveillance clip vtest.avi (768x576, MS-MPEG4v3),
# from Debian's opencv-doc package, as 8-bit RGB PNGs samples/vtest_fNNNN.png.
# These frames are not in the training data (which has frames 0..580, every 20th).
#
# Usage: scripts/make-sample.sh [OUTDIR]      (default: samples/ in the repository)
#
# Needs apt-get (with package lists), dpkg-deb, python3 and GStreamer with
# gstreamer1.0-libav (avdec_msmpeg4); see scripts/install-deps.sh.
# The PNG bytes depend on the GStreamer/libpng/zlib versions; samples/README.md
# records the sha256 of the committed files.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$REPO_ROOT/samples}"
FRAMES=(610 650 700 750)
VIDEO=usr/share/doc/opencv-doc/examples/data/vtest.avi

for t in apt-get dpkg-deb python3 gst-launch-1.0; do
    command -v "$t" >/dev/null || { echo "make-sample: '$t' not found (scripts/install-deps.sh)" >&2; exit 1; }
done
gst-inspect-1.0 --exists avdec_msmpeg4 || {
    echo "make-sample: GStreamer element avdec_msmpeg4 missing: install gstreamer1.0-libav" >&2; exit 1; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/cnncodec-sample.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
APT_OPTS=()
[[ $EUID -eq 0 ]] && APT_OPTS=(-o APT::Sandbox::User=root)
(cd "$TMP" && apt-get download -q "${APT_OPTS[@]}" opencv-doc >/dev/null) || {
    echo "make-sample: apt-get download opencv-doc failed (run: sudo apt-get update)" >&2; exit 1; }
deb=("$TMP"/opencv-doc_*.deb)
echo "make-sample: using $(basename "${deb[0]}")" >&2
dpkg-deb --fsys-tarfile "${deb[0]}" | tar -x -C "$TMP" "./$VIDEO"

mkdir -p "$OUT"
specs=()
for n in "${FRAMES[@]}"; do
    specs+=("$n:$OUT/$(printf 'vtest_f%04d.png' "$n")")
done
python3 "$REPO_ROOT/scripts/datatool.py" frames --video "$TMP/$VIDEO" --width 768 --height 576 --mode RGB "${specs[@]}"
(cd "$OUT" && sha256sum vtest_f*.png)
