#!/usr/bin/env bash
# The same networks on the CPU in burn (`cnncodec bench`) and in PyTorch
# (benches/pytorch_reference.py), one after the other on the same machine, with the ratio.
#   benches/compare-pytorch.sh [--frames N] [--sizes WxH,...] [--features N] [--depth N]
# PyTorch comes from PyPI into $PYTORCH_VENV (default .venv-bench). PyPI's x86-64 wheel is
# the CUDA build and will not import without its CUDA libraries (about 3 GB in all), even on
# the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=3 sizes=352x288,1280x720 features=64 depth=20
while [ $# -gt 0 ]; do
  case $1 in
    --frames) frames=$2 ;; --sizes) sizes=$2 ;; --features) features=$2 ;; --depth) depth=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
venv=${PYTORCH_VENV:-.venv-bench}
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install torch==2.5.1 numpy
fi
cargo build -p cnncodec-cli --locked
out=$(mktemp -d)
target/debug/cnncodec bench --frames "$frames" --sizes "$sizes" --features "$features" \
  --depth "$depth" | tee "$out/burn.md"
echo
"$venv/bin/python" benches/pytorch_reference.py --frames "$frames" --sizes "$sizes" \
  --features "$features" --depth "$depth" | tee "$out/torch.md"
echo
python3 - "$out/burn.md" "$out/torch.md" <<'PY'
import sys
def rows(path):
    r = {}
    for line in open(path):
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(c) == 6 and c[0] in ("ComCNN", "RecCNN"):
            r[(c[0], c[1])] = float(c[2])
    return r
burn, torch = rows(sys.argv[1]), rows(sys.argv[2])
print("| network | frame | burn ms | PyTorch ms | burn / PyTorch time |")
print("| --- | --- | --- | --- | --- |")
for k in burn:
    if k in torch:
        print(f"| {k[0]} | {k[1]} | {burn[k]:.1f} | {torch[k]:.1f} | {burn[k] / torch[k]:.2f} |")
PY
