#!/usr/bin/env python3
"""The shipped ComCNN and RecCNN as ONNX graphs in onnxruntime on the CPU: the reference that
benches/compare-onnxruntime.sh times `cnncodec bench` against.

    python benches/onnx_reference.py --model SPEC [--sizes 352x288,1280x720] [--frames 3]
                                     [--networks comcnn,reccnn] [--threads 2]
    python benches/onnx_reference.py --model SPEC --check

SPEC: a built-in model name (`jpeg-q50`, `jpeg-q50-fast` or `fast`, `jpeg-q50-paper`, ...: the
file models/NAME.cnnmodel), a .cnnmodel file, or a reference-layout directory holding
comcnn.safetensors and reccnn.safetensors (`../shared/reference/official-qf50`). The weights are
the model's own, BatchNorm folded into the convolutions as src/net/weights/ `fold_batch_norm`
does; float32, NCHW, batch 1, fixed H x W. onnxruntime's CPUExecutionProvider, all graph
optimisations, sequential execution, `--threads` intra-op threads (default 2), 1 inter-op.
Input: the ramp `cnncodec bench` uses, ((i * 31) % 255) / 255. One warm-up run, then the mean
over `--frames` runs. Prints a Markdown table with the columns of `cnncodec bench`.

`--check` compares each ONNX network on a small input with a plain numpy implementation
(direct 3x3 convolution with zero padding, BatchNorm applied unfolded, float64) and fails
unless the max abs difference is below 1e-4. Needs onnxruntime, onnx and numpy.
"""
import argparse
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ALIASES = {"fast": "jpeg-q50-fast"}  # src/net/builtin.rs ALIASES
BN_EPS = np.float32(1e-12)  # src/net/weights/ fold_batch_norm
OPSET = 17


# ---------------------------------------------------------------- weights

def read_safetensors(path):
    """(tensors as float32 arrays, metadata dict) of a safetensors file, F32 tensors only."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None) or {}
    base = 8 + n
    tensors = {}
    for key, info in header.items():
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {key} is {info['dtype']}, expected F32")
        a, b = info["data_offsets"]
        tensors[key] = np.frombuffer(raw[base + a:base + b], dtype="<f4").reshape(info["shape"]).astype(np.float32)
    return tensors, meta


def infer_reccnn(rec):
    depth = max(int(k[4:-7]) for k in rec if k.startswith("conv") and k.endswith(".weight"))
    cout, cin = rec["conv1.weight"].shape[:2]
    return {"channels": cin, "features": cout, "depth": depth, "batch_norm": "bn2.gamma" in rec}


def load_model(spec):
    """{'name', 'comcnn': {'cfg', 'tensors'}, 'reccnn': {'cfg', 'tensors'}} of SPEC (see the
    module doc); tensor names without the network prefix."""
    path = Path(spec)
    if not path.exists():
        name = ALIASES.get(spec, spec)
        path = REPO / "models" / f"{name}.cnnmodel"
        if not path.exists():
            raise SystemExit(f"'{spec}' is neither a path nor a built-in model (models/*.cnnmodel)")
    if path.is_dir():
        com, _ = read_safetensors(path / "comcnn.safetensors")
        rec, _ = read_safetensors(path / "reccnn.safetensors")
        cout, cin = com["conv1.weight"].shape[:2]
        ccfg, rcfg, name = {"channels": cin, "features": cout}, infer_reccnn(rec), path.name
    else:
        tensors, meta = read_safetensors(path)
        info = json.loads(meta["cnncodec.meta"])
        com = {k[len("comcnn."):]: v for k, v in tensors.items() if k.startswith("comcnn.")}
        rec = {k[len("reccnn."):]: v for k, v in tensors.items() if k.startswith("reccnn.")}
        ccfg, rcfg, name = info["comcnn"], info["reccnn"], info.get("name", path.stem)
    return {"name": name, "comcnn": {"cfg": ccfg, "tensors": com}, "reccnn": {"cfg": rcfg, "tensors": rec}}


def comcnn_layers(net):
    """[(weight, bias, stride, relu)] of the ComCNN."""
    t = net["tensors"]
    return [(t["conv1.weight"], t["conv1.bias"], 1, True),
            (t["conv2.weight"], t["conv2.bias"], 2, True),
            (t["conv3.weight"], t["conv3.bias"], 1, False)]


def reccnn_layers(net, fold=True):
    """[(weight, bias, stride, relu, bn or None)] of the RecCNN; with `fold`, BatchNorm folded
    into the convolutions exactly as src/net/weights/ fold_batch_norm does (float32) and bn None."""
    t, depth = net["tensors"], net["cfg"]["depth"]
    layers = []
    for n in range(1, depth + 1):
        w, b = t[f"conv{n}.weight"].copy(), t[f"conv{n}.bias"].copy()
        bn = None
        if 1 < n < depth and f"bn{n}.gamma" in t:
            bn = tuple(t[f"bn{n}.{k}"] for k in ("gamma", "beta", "running_mean", "running_var"))
        elif 1 < n < depth and net["cfg"].get("batch_norm"):
            raise SystemExit(f"RecCNN has batch_norm but no bn{n}.* tensors")
        if fold and bn is not None:
            gamma, beta, mean, var = bn
            scale = (gamma / np.sqrt(var + BN_EPS)).astype(np.float32)
            w = (w * scale[:, None, None, None]).astype(np.float32)
            b = ((b - mean) * scale + beta).astype(np.float32)
            bn = None
        layers.append((w, b, 1, n < depth, bn))
    return layers


def conv_flops(cin, cout, pixels):
    return 2 * 9 * cin * cout * pixels


def flops(kind, cfg, w, h):
    """FLOPs of one frame, as src/eval/bench.rs counts them."""
    c, f = cfg["channels"], cfg["features"]
    if kind == "comcnn":
        half = ((w + 1) // 2) * ((h + 1) // 2)
        return conv_flops(c, f, w * h) + conv_flops(f, f, half) + conv_flops(f, c, half)
    return conv_flops(c, f, w * h) + (cfg["depth"] - 2) * conv_flops(f, f, w * h) + conv_flops(f, c, w * h)


# ---------------------------------------------------------------- ONNX

def onnx_graph(layers, channels, w, h, name):
    """A serialised ONNX model of a chain of 3x3 convolutions (padding 1) and ReLUs on a
    1 x channels x h x w float32 input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, x = [], [], "x"
    for i, (wt, b, stride, relu, *_bn) in enumerate(layers, 1):
        inits += [numpy_helper.from_array(wt, f"conv{i}.weight"), numpy_helper.from_array(b, f"conv{i}.bias")]
        y = f"conv{i}"
        nodes.append(helper.make_node("Conv", [x, f"conv{i}.weight", f"conv{i}.bias"], [y],
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride]))
        if relu:
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}"]))
            y = f"relu{i}"
        x = y
    oh, ow = h, w
    for _, _, stride, *_ in layers:
        oh, ow = (oh - 1) // stride + 1, (ow - 1) // stride + 1
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, layers[-1][0].shape[0], oh, ow])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cnncodec")
    model.ir_version = 8  # enough for opset 17; older onnxruntimes refuse newer IR versions
    onnx.checker.check_model(model)
    return model.SerializeToString()


def session(model_bytes, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def ramp(c, w, h):
    """The input `cnncodec bench` uses: ((i * 31) % 255) / 255 over the frame."""
    i = np.arange(c * w * h, dtype=np.int64)
    return (((i * 31) % 255) / 255.0).astype(np.float32).reshape(1, c, h, w)


def network_layers(model, kind):
    net = model[kind]
    return comcnn_layers(net) if kind == "comcnn" else reccnn_layers(net)


# ---------------------------------------------------------------- check

def numpy_conv3x3(x, w, b, stride):
    """Direct 3x3 cross-correlation with zero padding 1 (float64): x [C, H, W], w [O, C, 3, 3]."""
    _, h, wd = x.shape
    oh, ow = (h - 1) // stride + 1, (wd - 1) // stride + 1
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w.shape[0], oh, ow)) + b.astype(np.float64)[:, None, None]
    for ky in range(3):
        for kx in range(3):
            patch = xp[:, ky:ky + stride * (oh - 1) + 1:stride, kx:kx + stride * (ow - 1) + 1:stride]
            out += np.einsum("oc,chw->ohw", w[:, :, ky, kx].astype(np.float64), patch)
    return out


def numpy_forward(model, kind, x):
    """The network in plain numpy (float64), from the stored tensors, BatchNorm unfolded with
    fold_batch_norm's epsilon."""
    y = x[0].astype(np.float64)
    if kind == "comcnn":
        layers = [(w, b, s, r, None) for w, b, s, r in comcnn_layers(model["comcnn"])]
    else:
        layers = reccnn_layers(model["reccnn"], fold=False)
    for w, b, stride, relu, bn in layers:
        y = numpy_conv3x3(y, w, b, stride)
        if bn is not None:
            gamma, beta, mean, var = (v.astype(np.float64)[:, None, None] for v in bn)
            y = gamma * (y - mean) / np.sqrt(var + float(BN_EPS)) + beta
        if relu:
            y = np.maximum(y, 0)
    return y[None]


def check(model, kinds, threads, w=37, h=29, tol=1e-4):
    """Each ONNX network against numpy on a deterministic w x h input; True when all agree."""
    ok = True
    for kind in kinds:
        c = model[kind]["cfg"]["channels"]
        yy, xx = np.mgrid[0:h, 0:w]
        x = np.stack([(0.5 + 0.4 * np.sin(0.37 * xx + 0.23 * yy + k) * np.cos(0.11 * xx * yy / 7)) for k in range(c)])
        x = x[None].astype(np.float32)
        got = session(onnx_graph(network_layers(model, kind), c, w, h, kind), threads).run(None, {"x": x})[0]
        want = numpy_forward(model, kind, x)
        diff = float(np.abs(got.astype(np.float64) - want).max()) if got.shape == want.shape else float("inf")
        good = diff < tol
        ok &= good
        print(f"check {model['name']} {kind} ({describe(model, kind)}) {w}x{h} -> {'x'.join(map(str, got.shape))}: "
              f"max |onnxruntime - numpy| = {diff:.2e} (|numpy| up to {np.abs(want).max():.3g}) "
              f"{'ok' if good else 'FAILED'}")
    return ok


def describe(model, kind):
    cfg = model[kind]["cfg"]
    if kind == "comcnn":
        return f"ComCNN {cfg['features']} features"
    return f"RecCNN {cfg['features']} x {cfg['depth']}{', BatchNorm folded' if cfg.get('batch_norm') else ''}"


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="jpeg-q50")
    p.add_argument("--sizes", default="352x288,1280x720")
    p.add_argument("--frames", type=int, default=3)
    p.add_argument("--networks", default="comcnn,reccnn", help="which of comcnn,reccnn to time")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    p.add_argument("--check", action="store_true", help="compare with numpy instead of timing")
    a = p.parse_args()
    model = load_model(a.model)
    kinds = [k.strip().lower() for k in a.networks.split(",") if k.strip()]
    if any(k not in ("comcnn", "reccnn") for k in kinds):
        raise SystemExit(f"--networks takes comcnn and/or reccnn, not {a.networks}")

    if a.check:
        sys.exit(0 if check(model, kinds, a.threads) else 1)

    import onnxruntime as ort
    rec = model["reccnn"]["cfg"]
    print(f"onnxruntime {ort.__version__} CPUExecutionProvider, {a.threads} intra-op threads, 1 inter-op, "
          f"ORT_ENABLE_ALL, sequential, {model['name']} ({describe(model, 'comcnn')}, RecCNN {rec['features']} "
          f"features x {rec['depth']} layers), {a.frames} frames each after a warm-up\n")
    print("| network | frame | ms/frame | frames/s | GFLOP/frame | GFLOP/s | output mean, mean abs |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for size in a.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        for kind in kinds:
            c = model[kind]["cfg"]["channels"]
            sess = session(onnx_graph(network_layers(model, kind), c, w, h, kind), a.threads)
            feed = {"x": ramp(c, w, h)}
            out = sess.run(None, feed)[0]  # warm-up: allocation, caches, kernel choice
            t = time.perf_counter()
            for _ in range(a.frames):
                sess.run(None, feed)
            ms = (time.perf_counter() - t) * 1000 / a.frames
            g = flops(kind, model[kind]["cfg"], w, h) / 1e9
            label = "ComCNN" if kind == "comcnn" else "RecCNN"
            # The output's mean and mean absolute value, as `cnncodec bench` prints them: the
            # same network on the same input gives the same figures.
            summary = f"{out.astype(np.float64).mean():.7f}, {np.abs(out.astype(np.float64)).mean():.7f}"
            print(f"| {label} | {w}x{h} | {ms:.2f} | {1000 / ms:.2f} | {g:.1f} | {g / (ms / 1000):.1f} | {summary} |",
                  flush=True)


if __name__ == "__main__":
    main()
