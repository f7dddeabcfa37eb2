#!/usr/bin/env python3
"""Build a cargo cdylib for Meson and copy it to the custom_target's output.

Meson's custom_target must produce its declared output file itself, but cargo
puts the library under $CARGO_TARGET_DIR/<profile>/. This wrapper runs

    cargo build --release -p PACKAGE [--features ...] --manifest-path ...

with CARGO_TARGET_DIR set (normally <meson builddir>/target), then copies
lib<NAME>.so to OUTPUT. The copy is skipped when the file has not changed, so the
output keeps its timestamp and dependents are not rebuilt for nothing.

Usage (see meson.build):
  cargo_wrapper.py --cargo CARGO --manifest-path Cargo.toml --target-dir DIR \
                   --package PKG --lib-name NAME --output OUT [--profile release] \
                   [-- EXTRA CARGO BUILD ARGS]
"""

import argparse
import filecmp
import os
import shutil
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cargo", default="cargo")
    ap.add_argument("--manifest-path", required=True)
    ap.add_argument("--target-dir", required=True)
    ap.add_argument("--package", required=True)
    ap.add_argument("--lib-name", required=True, help="the [lib] name, e.g. gstcnncodec")
    ap.add_argument("--output", required=True)
    ap.add_argument("--profile", default="release", choices=["release", "dev"])
    ap.add_argument("extra", nargs="*", help="extra arguments for cargo build (after --)")
    a = ap.parse_args()

    env = dict(os.environ, CARGO_TARGET_DIR=os.path.abspath(a.target_dir))
    cmd = [a.cargo, "build", "--manifest-path", a.manifest_path, "-p", a.package]
    cmd += ["--release"] if a.profile == "release" else []
    cmd += a.extra
    print("cargo_wrapper:", " ".join(cmd), f"(CARGO_TARGET_DIR={env['CARGO_TARGET_DIR']})", flush=True)
    rc = subprocess.call(cmd, env=env)
    if rc != 0:
        return rc

    profile_dir = "release" if a.profile == "release" else "debug"
    if sys.platform == "darwin":
        fname = f"lib{a.lib_name}.dylib"
    elif sys.platform == "win32":
        fname = f"{a.lib_name}.dll"
    else:
        fname = f"lib{a.lib_name}.so"
    built = os.path.join(env["CARGO_TARGET_DIR"], profile_dir, fname)
    if not os.path.isfile(built):
        print(f"cargo_wrapper: cargo succeeded but {built} does not exist", file=sys.stderr)
        return 1
    if not (os.path.isfile(a.output) and filecmp.cmp(built, a.output, shallow=False)):
        tmp = a.output + ".tmp"
        shutil.copy2(built, tmp)
        os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
