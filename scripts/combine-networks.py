#!/usr/bin/env python3
"""Puts networks of different models together into a reference-layout folder
(comcnn.safetensors + reccnn.safetensors) that `cnncodec eval --model DIR@Q` reads, to see
where a difference between two models comes from. Diagnostics only: the folder is nobody's
trained model.

  scripts/combine-networks.py --comcnn A --reccnn B [--stats C] [--no-reccnn] OUT_DIR

A, B, C are model files (.cnnmodel) or reference-layout folders. --stats C takes RecCNN's
BatchNorm running statistics from C; --no-reccnn zeroes RecCNN's last convolution, so the
output is the bicubic up-scaled decoded image ("without RecCNN"). Plain Python, no packages.
"""
import argparse
import json
import os
import struct


def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    header.pop("__metadata__", None)
    return {
        k: (v["dtype"], v["shape"], data[v["data_offsets"][0] : v["data_offsets"][1]])
        for k, v in header.items()
    }


def write(path, tensors, model):
    header, blobs, offset = {}, [], 0
    for k, (dtype, shape, raw) in sorted(tensors.items()):
        header[k] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    header["__metadata__"] = {"model": model}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def networks(path):
    """(comcnn, reccnn) tensors of a model file or reference-layout folder."""
    if os.path.isdir(path):
        return read(os.path.join(path, "comcnn.safetensors")), read(
            os.path.join(path, "reccnn.safetensors")
        )
    tensors = read(path)
    pick = lambda net: {k[len(net) + 1 :]: v for k, v in tensors.items() if k.startswith(net + ".")}
    return pick("comcnn"), pick("reccnn")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--comcnn", required=True)
    p.add_argument("--reccnn", required=True)
    p.add_argument("--stats", help="take RecCNN's BatchNorm running statistics from this model")
    p.add_argument("--no-reccnn", action="store_true", help="zero RecCNN's last convolution")
    p.add_argument("out")
    a = p.parse_args()
    com = networks(a.comcnn)[0]
    rec = dict(networks(a.reccnn)[1])
    if a.stats:
        stats = networks(a.stats)[1]
        for k in rec:
            if k.endswith(".running_mean") or k.endswith(".running_var"):
                if k not in stats or stats[k][1] != rec[k][1]:
                    raise SystemExit(f"--stats {a.stats}: no {k} of shape {rec[k][1]}")
                rec[k] = stats[k]
    if a.no_reccnn:
        last = max(int(k[4:].split(".")[0]) for k in rec if k.startswith("conv"))
        for k in [k for k in rec if k.startswith(f"conv{last}.")]:
            dtype, shape, raw = rec[k]
            rec[k] = (dtype, shape, bytes(len(raw)))
    os.makedirs(a.out, exist_ok=True)
    write(os.path.join(a.out, "comcnn.safetensors"), com, "comcnn")
    write(os.path.join(a.out, "reccnn.safetensors"), rec, "reccnn")
    print(f"wrote {a.out}: ComCNN of {a.comcnn}, RecCNN of {a.reccnn}"
          + (f", statistics of {a.stats}" if a.stats else "")
          + (", last layer zeroed (no RecCNN)" if a.no_reccnn else ""))


if __name__ == "__main__":
    main()
