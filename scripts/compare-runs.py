#!/usr/bin/env python3
"""Compares two `cnncodec train` logs of the same command (for example a shipped model's run
and a re-run that was interrupted and resumed): every step must appear exactly once, and the
mean loss of each window of steps must agree within a tolerance (burn's multi-threaded CPU
kernels do not sum in a fixed order, so two runs drift apart by float rounding, not more).
With --rd, also prints the two models' dev-eval points from `cnncodec eval`'s rd.json."""
import argparse
import json
import re
import sys

LINE = re.compile(r"stage=(\d+) net=(\w+) step=(\d+) loss=([0-9.eE+-]+)")


def read_log(path):
    steps = {}
    for line in open(path):
        m = LINE.match(line)
        if not m:
            continue
        key = (int(m.group(1)), int(m.group(3)))
        if key in steps:
            sys.exit(f"{path}: stage {key[0]} step {key[1]} appears twice")
        steps[key] = float(m.group(4))
    return steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("rerun")
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--tolerance", type=float, default=0.005,
                    help="largest relative difference of a window's mean loss")
    ap.add_argument("--resumed-at", type=int, default=None)
    ap.add_argument("--rd", default=None)
    a = ap.parse_args()
    ref, new = read_log(a.reference), read_log(a.rerun)
    if set(ref) != set(new):
        missing = sorted(set(ref) - set(new))[:5]
        extra = sorted(set(new) - set(ref))[:5]
        sys.exit(f"the runs cover different steps (missing {missing}, extra {extra})")
    keys = sorted(ref)
    same = sum(1 for k in keys if f"{ref[k]:.8f}" == f"{new[k]:.8f}")
    print(f"{len(keys)} steps; {same} with the same logged loss (8 decimals)")
    worst = 0.0
    print("steps        reference    re-run       difference")
    for i in range(0, len(keys), a.window):
        ks = keys[i:i + a.window]
        r = sum(ref[k] for k in ks) / len(ks)
        n = sum(new[k] for k in ks) / len(ks)
        rel = (n - r) / r
        worst = max(worst, abs(rel))
        mark = ""
        if a.resumed_at is not None and ks[0][1] <= a.resumed_at <= ks[-1][1]:
            mark = "  <- resumed here"
        print(f"{ks[0][1]:>5}-{ks[-1][1]:<5}  {r:.8f}   {n:.8f}   {100 * rel:+.3f} %{mark}")
    print(f"largest window difference {100 * worst:.3f} % (tolerance {100 * a.tolerance:.1f} %)")
    if a.rd:
        curves = {c["name"]: c["results"] for c in json.load(open(a.rd))["curves"]}
        for name in ("shipped", "resumed"):
            c = curves[name]
            print(f"{name:>8}: {c['bpp'][0]:.4f} bpp, PSNR-Y {c['psnr-y'][0]:.3f} dB, "
                  f"SSIM {c['ssim'][0]:.4f}")
        d = curves["resumed"]["psnr-y"][0] - curves["shipped"]["psnr-y"][0]
        print(f"resumed - shipped: {d:+.3f} dB")
    if worst > a.tolerance:
        sys.exit("the loss curves differ by more than the tolerance")


main()
