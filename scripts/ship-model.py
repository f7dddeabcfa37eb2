#!/usr/bin/env python3
"""Copies a trained model file under the name it ships as: the name inside the file becomes
NAME (the library requires it to match the file name) and the provenance says it was renamed.
The networks' bytes, and so the content hash streams name, are unchanged.

  scripts/ship-model.py RUN_DIR/model.cnnmodel models/NAME.cnnmodel [--note TEXT]

--note appends TEXT to the provenance (for example the commit that holds the code a run was
trained with, where the binary recorded an earlier one).

Plain Python, no packages.
"""
import argparse
import json
import os
import struct


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dest", help="models/NAME.cnnmodel: NAME is the shipped name")
    ap.add_argument("--note", help="appended to the provenance")
    args = ap.parse_args()
    name = os.path.basename(args.dest)
    if not name.endswith(".cnnmodel"):
        raise SystemExit(f"{args.dest}: the destination must end in .cnnmodel")
    name = name[: -len(".cnnmodel")]
    raw = open(args.src, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["cnncodec.meta"])
    old = meta["name"]
    if old != name:
        meta["name"] = name
        meta["provenance"] = (
            meta.get("provenance", "").rstrip() + f" Renamed '{old}' -> '{name}' when shipped."
        )
    if args.note:
        meta["provenance"] = meta.get("provenance", "").rstrip() + " " + args.note.strip()
    header["__metadata__"]["cnncodec.meta"] = json.dumps(meta, separators=(",", ":"))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the tensor data 8-byte aligned
    tmp = args.dest + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + raw[8 + n :])
    os.replace(tmp, args.dest)
    print(f"{args.dest}: '{old}' -> '{name}'")


if __name__ == "__main__":
    main()
