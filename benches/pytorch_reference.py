#!/usr/bin/env python3
"""The same ComCNN and RecCNN in PyTorch on the CPU: the reference our burn CPU path is
measured against (benches/compare-pytorch.sh runs both and prints the ratio).

    python3 benches/pytorch_reference.py [--frames 3] [--sizes 352x288,1280x720]
                                         [--features 64] [--depth 20] [--threads N]
    python3 benches/pytorch_reference.py --train [--steps 3] [--features 64] [--depth 20]
                                         [--batch 16] [--patch 40] [--threads N]

Inference (default): float32, NCHW, one frame at a time (as the elements run), random
weights (speed does not depend on them), BatchNorm in inference form. Prints a Markdown
table with the columns of `cnncodec bench`.

--train: seconds per RecCNN training step, the counterpart of `cnncodec bench-train`: a
batch of `batch` x 1 x `patch` x `patch` float32 patches (the same deterministic values in
[0, 1] as the Rust bench), BatchNorm in training form (batch statistics, epsilon 1e-5,
momentum 0.1), loss = mean(residual^2) of the network's output, Adam with lr 1e-4;
zero_grad, forward, backward, step. One warm-up step, then `steps` timed ones. GFLOP/s
counts three forwards per step (forward, and backward's two convolutions per layer). Threads
default to the CPUs this process may use (what the Rust side's rayon pool uses).
"""
import argparse
import os
import time

import torch
from torch import nn


def comcnn(features):
    return nn.Sequential(
        nn.Conv2d(1, features, 3, padding=1), nn.ReLU(),
        nn.Conv2d(features, features, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(features, 1, 3, padding=1))


def reccnn(features, depth):
    layers = [nn.Conv2d(1, features, 3, padding=1), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(features, features, 3, padding=1), nn.BatchNorm2d(features), nn.ReLU()]
    layers.append(nn.Conv2d(features, 1, 3, padding=1))
    return nn.Sequential(*layers)


def conv_flops(cin, cout, pixels):
    return 2 * 9 * cin * cout * pixels


def reccnn_flops(features, depth, pixels):
    """One forward of RecCNN over `pixels` pixels (multiply-adds count as 2)."""
    return (conv_flops(1, features, pixels) + (depth - 2) * conv_flops(features, features, pixels)
            + conv_flops(features, 1, pixels))


def train(a):
    """Seconds per RecCNN training step; prints the table and the loss per step."""
    torch.manual_seed(0)
    net = reccnn(a.features, a.depth).train()
    n = a.batch * a.patch * a.patch
    # The Rust bench's input: ((i * 31) % 255) / 255 for element i of the NCHW batch.
    x = ((torch.arange(n, dtype=torch.int64) * 31) % 255).to(torch.float32).div_(255.0)
    x = x.reshape(a.batch, 1, a.patch, a.patch).contiguous()
    optim = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step():
        optim.zero_grad()
        residual = net(x)
        loss = (residual * residual).mean()
        loss.backward()
        optim.step()
        return loss.detach()

    losses = [step()]  # warm-up: allocation, oneDNN primitives
    t = time.perf_counter()
    for _ in range(a.steps):
        losses.append(step())
    s = (time.perf_counter() - t) / max(a.steps, 1)
    g = 3 * a.batch * reccnn_flops(a.features, a.depth, a.patch * a.patch) / 1e9
    print(f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads, "
          f"RecCNN {a.features} features x {a.depth} layers, batch {a.batch} of {a.patch}x{a.patch}, "
          f"{a.steps} steps after a warm-up\n")
    print("| network | batch | s/step | GFLOP/s (3 forwards) |")
    print("| --- | --- | --- | --- |")
    print(f"| RecCNN {a.features} x {a.depth} | {a.batch} x {a.patch}x{a.patch} | {s:.4f} | {g / s:.1f} |")
    print("\nloss (mean residual^2) before each step, warm-up first: "
          + " ".join(f"{float(v):.6g}" for v in losses))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", action="store_true", help="time RecCNN training steps instead")
    p.add_argument("--frames", type=int, default=3)
    p.add_argument("--sizes", default="352x288,1280x720")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--com-features", type=int, default=None)
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--batch", type=int, default=16, help="--train: patches per step")
    p.add_argument("--patch", type=int, default=40, help="--train: patch side")
    p.add_argument("--steps", type=int, default=3, help="--train: timed steps")
    p.add_argument("--threads", type=int, default=0,
                   help="0: PyTorch's default (--train: the CPUs this process may use)")
    a = p.parse_args()
    if a.train and not a.threads:
        a.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.train:
        train(a)
        return
    cf = a.com_features or a.features
    com, rec = comcnn(cf).eval(), reccnn(a.features, a.depth).eval()
    print(f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads, "
          f"RecCNN {a.features} features x {a.depth} layers, {a.frames} frames each after a warm-up\n")
    print("| network | frame | ms/frame | frames/s | GFLOP/frame | GFLOP/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in a.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        x = torch.rand(1, 1, h, w)
        hw, hh = (w + 1) // 2, (h + 1) // 2
        flops = {
            "ComCNN": conv_flops(1, cf, w * h) + conv_flops(cf, cf, hw * hh) + conv_flops(cf, 1, hw * hh),
            "RecCNN": conv_flops(1, a.features, w * h) * 2
            + (a.depth - 2) * conv_flops(a.features, a.features, w * h),
        }
        for name, net in (("ComCNN", com), ("RecCNN", rec)):
            with torch.inference_mode():
                net(x)
                t = time.perf_counter()
                for _ in range(a.frames):
                    net(x)
                ms = (time.perf_counter() - t) * 1000 / a.frames
            g = flops[name] / 1e9
            print(f"| {name} | {w}x{h} | {ms:.1f} | {1000 / ms:.2f} | {g:.1f} | {g / (ms / 1000):.1f} |")


if __name__ == "__main__":
    main()
