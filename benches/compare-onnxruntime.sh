#!/usr/bin/env bash
# The shipped networks on the CPU in cnncodec (`cnncodec bench`) and in onnxruntime
# (benches/onnx_reference.py: the same weights as ONNX graphs, BatchNorm folded), 2 threads
# each, in the same run, with the time ratio.
#   benches/compare-onnxruntime.sh [--frames N] [--sizes WxH,...] [--rounds R] [--json PATH]
#                                  [--no-build]
# Both print their output's mean and mean absolute value on the same input; the run fails
# unless they agree to float rounding (the same network, the same weights).
# Networks: ComCNN-8 (jpeg-q50), the paper's ComCNN-64 (../shared/reference/official-qf50),
# RecCNN 16 x 3 (jpeg-q50-fast), 32 x 10 (jpeg-q50), 64 x 20 (jpeg-q50-paper). Each engine
# runs one process per (model, size) and round, the two alternating which goes first; one
# warm-up frame, then the mean over the frames; the table has each engine's minimum over the
# rounds. Frames: N (default 5) for a run, fewer for heavy ones: at most about N x 135 GFLOP
# (N frames of the 64 x 20 RecCNN at CIF) for the heaviest network of the run, at least 1
# (so 64 x 20 gets 1 frame at 720p and 1080p). Per round that is about 11 TFLOP for each
# engine. onnxruntime, onnx and numpy come from PyPI into $ONNX_VENV (default .venv-onnx).
# --no-build times target/release/cnncodec as it is, without `cargo build` first.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=5 sizes=352x288,1280x720,1920x1080 rounds=2 json= build=1
while [ $# -gt 0 ]; do
  case $1 in
    --frames) frames=$2 ;; --sizes) sizes=$2 ;; --rounds) rounds=$2 ;; --json) json=$2 ;;
    --no-build) build=0; shift; continue ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
venv=${ONNX_VENV:-.venv-onnx}
if ! "$venv/bin/python" -c "import onnxruntime, onnx, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install onnxruntime onnx numpy
fi
py=$venv/bin/python
if [ "$build" = 1 ]; then
  cargo build --release -p cnncodec-cli --locked
elif [ ! -x target/release/cnncodec ]; then
  echo "--no-build: there is no target/release/cnncodec" >&2; exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
paper=../shared/reference/official-qf50
specs="jpeg-q50 jpeg-q50-fast jpeg-q50-paper"
if [ -d "$paper" ]; then
  specs="$specs $paper"
else
  echo "no $paper: the paper's ComCNN-64 is left out" >&2
fi
# The ONNX graphs against plain numpy first (a few seconds).
for s in $specs; do "$py" benches/onnx_reference.py --model "$s" --check >&2; done
"$py" - "$frames" "$sizes" "$rounds" "$out" "$json" "$paper" <<'PY'
import json, os, subprocess, sys, time
sys.dont_write_bytecode = True  # no benches/__pycache__
sys.path.insert(0, "benches")
import onnxruntime
import onnx_reference as R

frames_n, sizes, rounds, out, json_path, paper = sys.argv[1:]
frames_n, rounds = int(frames_n), int(rounds)
sizes = [tuple(int(v) for v in s.split("x")) for s in sizes.split(",")]
start = time.time()

# (ORT spec, cnncodec spec, networks to take from the run)
jobs = [("jpeg-q50", "jpeg-q50", ["comcnn", "reccnn"]),
        ("jpeg-q50-fast", "jpeg-q50-fast", ["reccnn"]),
        ("jpeg-q50-paper", "jpeg-q50-paper", ["reccnn"])]
if os.path.isdir(paper):
    jobs.append((paper, paper, ["comcnn"]))
models = {spec: R.load_model(spec) for spec, _, _ in jobs}


def label(spec, kind):
    m = models[spec]
    cfg = m[kind]["cfg"]
    name = "official-qf50, the paper's" if spec == paper else m["name"]
    if kind == "comcnn":
        return f"ComCNN-{cfg['features']} ({name})"
    return f"RecCNN {cfg['features']} x {cfg['depth']} ({name})"


def gflop(spec, kind, w, h):
    return R.flops(kind, models[spec][kind]["cfg"], w, h) / 1e9


# 64 x 20 RecCNN at CIF: the per-frame work that gets the full N frames
budget = R.flops("reccnn", {"channels": 1, "features": 64, "depth": 20}, 352, 288) / 1e9


def frames_for(spec, kinds, w, h):
    heaviest = max(gflop(spec, k, w, h) for k in kinds)
    return max(1, min(frames_n, round(frames_n * budget / heaviest)))


# Both engines on the same 2 CPUs where the machine has more.
cpus = sorted(os.sched_getaffinity(0))
pin = ["taskset", "-c", f"{cpus[0]},{cpus[1]}"] if len(cpus) > 2 else []
cpu_model, flags = "unknown CPU", set()
for line in open("/proc/cpuinfo"):
    if line.startswith("model name") and cpu_model == "unknown CPU":
        cpu_model = line.split(":", 1)[1].strip()
    if line.startswith("flags") and not flags:
        flags = set(line.split(":", 1)[1].split())


def rows(text):
    """{(network, frame): (ms, GFLOP, (output mean, mean abs))} of a `cnncodec bench`-style
    table, and the other lines."""
    got, other = {}, []
    for line in text.splitlines():
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|"):
            if len(c) >= 7 and c[0] in ("ComCNN", "RecCNN"):
                check = tuple(float(v) for v in c[-1].split(","))
                got[(c[0], c[1])] = (float(c[2]), float(c[4]), check)
        elif line.strip():
            other.append(line.strip())
    return got, other


def run(cmd, path):
    res = subprocess.run(pin + cmd, capture_output=True, text=True)
    with open(path, "w") as f:
        f.write(res.stdout + res.stderr)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout}{res.stderr}")
    return rows(res.stdout)


results, headers = {}, {"onnxruntime": [], "cnncodec": []}
for r in range(rounds):
    for si, (w, h) in enumerate(sizes):
        for ji, (spec, cnn_spec, kinds) in enumerate(jobs):
            n, size = frames_for(spec, kinds, w, h), f"{w}x{h}"
            cmds = {
                "onnxruntime": [sys.executable, "benches/onnx_reference.py", "--model", spec, "--sizes", size,
                                "--frames", str(n), "--threads", "2", "--networks", ",".join(kinds)],
                "cnncodec": ["target/release/cnncodec", "bench", "--model", cnn_spec, "--sizes", size,
                             "--frames", str(n), "--networks", ",".join(kinds)],
            }
            order = ["onnxruntime", "cnncodec"] if (r + si + ji) % 2 == 0 else ["cnncodec", "onnxruntime"]
            got, t0 = {}, time.time()
            for engine in order:
                got[engine], other = run(cmds[engine], f"{out}/{engine}-r{r}-{size}-{ji}.md")
                headers[engine] += [l for l in other if l not in headers[engine]]
            line = []
            for kind in kinds:
                key = ("ComCNN" if kind == "comcnn" else "RecCNN", size)
                g = gflop(spec, kind, w, h)
                e = results.setdefault((label(spec, kind), size), {
                    "network": label(spec, kind), "kind": kind, "frame": size, "onnx_model": spec,
                    "cnncodec_model": cnn_spec,
                    "frames": n, "gflop_per_frame": g,
                    "onnxruntime_ms": [], "cnncodec_ms": []})
                for engine in order:
                    if key not in got[engine]:
                        sys.exit(f"no {key[0]} {size} row in the {engine} output "
                                 f"({' '.join(cmds[engine])}):\n{open(f'{out}/{engine}-r{r}-{size}-{ji}.md').read()}")
                    e[f"{engine}_ms"].append(got[engine][key][0])
                # The same network on the same input: the same output, to float rounding.
                (om, oa), (cm, ca) = got["onnxruntime"][key][2], got["cnncodec"][key][2]
                if abs(om - cm) > 2e-6 + 1e-4 * oa or abs(oa - ca) > 2e-6 + 1e-4 * oa:
                    sys.exit(f"{e['network']} {size}: onnxruntime's output (mean {om}, mean abs {oa}) "
                             f"is not cnncodec's (mean {cm}, mean abs {ca}): not the same network")
                cg = got["cnncodec"][key][1]
                if abs(cg - g) > 0.051 + 0.01 * g:
                    print(f"warning: cnncodec counts {cg} GFLOP/frame for {e['network']} {size}, we count "
                          f"{g:.2f}: not the same network?", file=sys.stderr)
                line.append(f"{e['network']}: onnxruntime {e['onnxruntime_ms'][-1]:.2f} ms, "
                            f"cnncodec {e['cnncodec_ms'][-1]:.2f} ms")
            print(f"round {r + 1}/{rounds} {size} ({n} frames, {time.time() - t0:.0f} s): " + "; ".join(line),
                  file=sys.stderr, flush=True)

avx = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in ("avx2", "fma", "avx512f"))
threads = (f"both pinned to CPUs {cpus[0]},{cpus[1]} of {len(cpus)}" if pin
           else f"{len(cpus)} CPUs available")
print()
print(f"onnxruntime {onnxruntime.__version__} (CPUExecutionProvider, 2 intra-op threads, 1 inter-op, "
      f"ORT_ENABLE_ALL, sequential) vs cnncodec bench (its CPU engine, sized to the available cores); "
      f"{threads}; {cpu_model} ({avx})")
print(f"ms: each engine's minimum over {rounds} round(s) of its mean per frame (one warm-up, then the "
      f"frames); frames per run: " + ", ".join(
          sorted({f"{e['frame']} {e['network'].split(' (')[0]}: {e['frames']}" for e in results.values()},
                 key=lambda s: (int(s.split('x')[0]), s))))
built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime("target/release/cnncodec")))
print(f"cnncodec bench (target/release/cnncodec of {built}) said:")
for line in headers["cnncodec"]:
    print(f"  {line}")
print()
print("| network | frame | GFLOP/frame | onnxruntime ms | cnncodec ms | onnxruntime GFLOP/s | cnncodec GFLOP/s "
      "| cnncodec / onnxruntime |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
kind_order = {"comcnn": 0, "reccnn": 1}
table = sorted(results.values(), key=lambda e: (kind_order[e["kind"]], e["gflop_per_frame"] / (
    int(e["frame"].split("x")[0]) * int(e["frame"].split("x")[1])), int(e["frame"].split("x")[0])))
for e in table:
    o, c, g = min(e["onnxruntime_ms"]), min(e["cnncodec_ms"]), e["gflop_per_frame"]
    e.update(onnxruntime_min_ms=o, cnncodec_min_ms=c, ratio=c / o)
    print(f"| {e['network']} | {e['frame']} | {g:.2f} | {o:.2f} | {c:.2f} | {g / (o / 1000):.1f} | "
          f"{g / (c / 1000):.1f} | {c / o:.2f} |")
print(f"\ncnncodec / onnxruntime: time per frame, above 1 = cnncodec slower. "
      f"Whole run {time.time() - start:.0f} s.")
if json_path:
    with open(json_path, "w") as f:
        json.dump({"onnxruntime_version": onnxruntime.__version__, "cpu": cpu_model,
                   "flags": {k: k in flags for k in ("avx2", "fma", "avx512f")}, "cpus_available": len(cpus),
                   "pinned_to": cpus[:2] if pin else None, "onnxruntime_threads": {"intra_op": 2, "inter_op": 1},
                   "rounds": rounds, "frames_arg": frames_n, "cnncodec_header": headers["cnncodec"],
                   "onnxruntime_header": headers["onnxruntime"], "results": table}, f, indent=2)
PY
