#!/usr/bin/env bash
# The same networks on the CPU in burn (`cnncodec bench`) and in PyTorch
# (benches/pytorch_reference.py), one after the other on the same machine, with the ratio.
#   benches/compare-pytorch.sh [--frames N] [--sizes WxH,...] [--features N] [--depth N]
#   benches/compare-pytorch.sh --train [--steps N] [--nets FxD,...] [--batch 16] [--patch 40]
#                              [--rounds R]
# Inference (default): ms per frame of ComCNN and RecCNN, `cnncodec bench` against PyTorch.
# --train: seconds per RecCNN training step (forward, backward, Adam on one batch),
# `cnncodec bench-train` (every path it prints) against PyTorch, for each network FxD
# (features x depth; default 32x10,64x20; --features/--depth pick a single one). PyTorch
# gets as many threads as the Rust side reports cores. R rounds (default 3), the two sides
# alternating which goes first, burn's generic path in the first round only; each side's
# time is its minimum over the rounds (the machines are shared and noisy).
# --no-build (or CNNCODEC_BIN=path) times an existing binary instead of building
# target/release/cnncodec first.
# PyTorch comes from PyPI into $PYTORCH_VENV (default .venv-bench), from PyTorch's CPU-only
# index instead when download.pytorch.org answers. PyPI's x86-64 wheel is the CUDA build and
# pulls its CUDA libraries (about 3 GB of downloads; the venv comes to 5.2 GB) even for the
# CPU; download.pytorch.org is often unreachable where only package registries are.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=3 sizes=352x288,1280x720 features= depth= train= steps=3 nets=32x10,64x20 batch=16
patch=40 build=1 rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --train) train=1; shift; continue ;;
    --no-build) build=; shift; continue ;;
    --frames | --sizes | --features | --depth | --steps | --nets | --batch | --patch | --rounds)
      [ $# -ge 2 ] || { echo "option $1 needs a value" >&2; exit 2; } ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  case $1 in
    --frames) frames=$2 ;; --sizes) sizes=$2 ;; --features) features=$2 ;; --depth) depth=$2 ;;
    --steps) steps=$2 ;; --nets) nets=$2 ;; --batch) batch=$2 ;; --patch) patch=$2 ;;
    --rounds) rounds=$2 ;;
  esac
  shift 2
done
venv=${PYTORCH_VENV:-.venv-bench}
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$venv"
  if curl -sfI --max-time 10 https://download.pytorch.org/whl/cpu/ >/dev/null 2>&1; then
    "$venv/bin/pip" install torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu
    "$venv/bin/pip" install numpy
  else
    "$venv/bin/pip" install torch==2.5.1 numpy
  fi
fi
bin=${CNNCODEC_BIN:-target/release/cnncodec}
if [ -n "$build" ] && [ -z "${CNNCODEC_BIN:-}" ]; then
  cargo build --release -p cnncodec-cli --locked # a debug build is no use for timing
fi
[ -x "$bin" ] || { echo "no $bin (build it, or drop --no-build)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if [ -z "$train" ]; then
  "$bin" bench --frames "$frames" --sizes "$sizes" --features "${features:-64}" \
    --depth "${depth:-20}" | tee "$out/burn.md"
  echo
  # `cnncodec bench --features` sizes the RecCNN; its ComCNN keeps the paper's 64 features.
  "$venv/bin/python" benches/pytorch_reference.py --frames "$frames" --sizes "$sizes" \
    --features "${features:-64}" --com-features 64 --depth "${depth:-20}" | tee "$out/torch.md"
  echo
  python3 - "$out/burn.md" "$out/torch.md" <<'PY'
import sys
def rows(path):
    r = {}
    for line in open(path):
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(c) >= 6 and c[0] in ("ComCNN", "RecCNN"):
            r[(c[0], c[1])] = float(c[2])
    return r
burn, torch = rows(sys.argv[1]), rows(sys.argv[2])
print("| network | frame | burn ms | PyTorch ms | burn / PyTorch time |")
print("| --- | --- | --- | --- | --- |")
for k in burn:
    if k in torch:
        print(f"| {k[0]} | {k[1]} | {burn[k]:.1f} | {torch[k]:.1f} | {burn[k] / torch[k]:.2f} |")
PY
  exit 0
fi

if [ -n "$features$depth" ]; then
  nets=${features:-64}x${depth:-20}
fi
# Round $r of network $i ($f x $d) for each side; burn's generic path in round 1 only.
ours() {
  "$bin" bench-train --features "$f" --depth "$d" --batch "$batch" --patch "$patch" \
    --steps "$steps" --generic "$([ "$r" = 1 ] && echo yes || echo no)" \
    | tee "$out/$i.$r.cnncodec.md"
  echo
}
theirs() {
  # As many threads as the Rust side's "..., N cores" header says it used.
  cores=$(sed -n 's/.*, \([0-9][0-9]*\) cores$/\1/p' "$out/$i.1.cnncodec.md" | head -n1)
  "$venv/bin/python" benches/pytorch_reference.py --train --features "$f" --depth "$d" \
    --batch "$batch" --patch "$patch" --steps "$steps" ${cores:+--threads "$cores"} \
    | tee "$out/$i.$r.torch.md"
  echo
}
i=0
for net in ${nets//,/ }; do
  f=${net%x*} d=${net#*x}
  i=$((i + 1))
  echo "$f x $d" >"$out/$i.net"
  for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then ours; theirs; else theirs; ours; fi
  done
done
python3 - "$out" "$i" "$rounds" <<'PY'
import sys

def table(path, header):
    """The rows under the Markdown table whose first cell is `header`, as lists of cells."""
    rows, inside = [], False
    for line in open(path):
        line = line.strip()
        if not line.startswith("|"):
            inside = False
            continue
        c = [x.strip() for x in line.strip("|").split("|")]
        if c[0] == header:
            inside = True
        elif inside and not set(c[0]) <= set("-: "):
            rows.append(c)
    return rows

def seconds(cell):
    try:
        return float(cell)
    except ValueError:
        return None

out, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print("| network | cnncodec path | cnncodec s/step | PyTorch s/step | cnncodec / PyTorch |")
print("| --- | --- | --- | --- | --- |")
bad = False
for i in range(1, n + 1):
    net = open(f"{out}/{i}.net").read().strip()
    best = {}
    for r in range(1, rounds + 1):
        for row in table(f"{out}/{i}.{r}.cnncodec.md", "backward"):
            if len(row) >= 2 and seconds(row[1]) is not None:
                best[row[0]] = min(best.get(row[0], float("inf")), seconds(row[1]))
    ours = list(best.items())
    theirs = [seconds(row[2]) for r in range(1, rounds + 1)
              for row in table(f"{out}/{i}.{r}.torch.md", "network") if len(row) >= 3]
    theirs = [min(s for s in theirs if s is not None)] if any(s is not None for s in theirs) else []
    if not ours or not theirs:
        print(f"| RecCNN {net} | (no {'cnncodec' if not ours else 'PyTorch'} rows parsed) | | | |")
        bad = True
        continue
    f, d = net.split(" x ")
    if f"RecCNN {f} features x {d} layers" not in open(f"{out}/{i}.1.cnncodec.md").read():
        print(f"warning: cnncodec bench-train did not report RecCNN {f} features x {d} layers",
              file=sys.stderr)
        bad = True
    for name, s in ours:
        print(f"| RecCNN {net} | {name} | {s:.3f} | {theirs[0]:.4f} | {s / theirs[0]:.2f} |")
sys.exit(1 if bad else 0)
PY
