#!/usr/bin/env bash
# Checks of the shell scripts that CI can afford: every script parses, and scripts/lib.sh's
# model_at writes the model of a commit and, for a commit without it, fails leaving no file.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in scripts/*.sh benches/*.sh .ci/run; do
    bash -n "$f" || { echo "check-scripts: $f does not parse" >&2; exit 1; }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
. scripts/lib.sh
commit="$(git log -n 1 --format=%h -- models/jpeg-q50.cnnmodel)"
[ -n "$commit" ] || { echo "check-scripts: no commit holds models/jpeg-q50.cnnmodel" >&2; exit 1; }
model_at "$commit" jpeg-q50 "$tmp/a/model.cnnmodel"
cmp -s <(git show "$commit:models/jpeg-q50.cnnmodel") "$tmp/a/model.cnnmodel" ||
    { echo "check-scripts: model_at wrote another file than git holds" >&2; exit 1; }
if model_at "$commit" no-such-model "$tmp/b/model.cnnmodel" 2>/dev/null; then
    echo "check-scripts: model_at succeeded for a model the commit lacks" >&2
    exit 1
fi
[ -z "$(ls -A "$tmp/b")" ] || { echo "check-scripts: model_at left $(ls "$tmp/b") behind" >&2; exit 1; }
echo "check-scripts: all scripts parse; model_at ok"
