#!/usr/bin/env python3
"""The same ComCNN and RecCNN in PyTorch on the CPU: the reference our burn CPU path is
measured against (benches/compare-pytorch.sh runs both and prints the ratio).

    python3 benches/pytorch_reference.py [--frames 3] [--sizes 352x288,1280x720]
                                         [--features 64] [--depth 20] [--threads N]

Inference mode, float32, NCHW, one frame at a time (as the elements run), random weights
(speed does not depend on them), BatchNorm in inference form. Prints a Markdown table with
the columns of `cnncodec bench`.
"""
import argparse
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=3)
    p.add_argument("--sizes", default="352x288,1280x720")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--com-features", type=int, default=None)
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--threads", type=int, default=0, help="0: PyTorch's default")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
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
