#!/usr/bin/env bash
# Install the system packages needed to build and test cnncodec on Debian 12 (bookworm)
# or a similar Debian/Ubuntu system. Idempotent: if everything is already installed,
# it skips apt entirely (no `apt-get update`), so running it again costs well under a second.
#
# Usage: scripts/install-deps.sh        (as root, or as a user with sudo)
#
# The Rust toolchain is not installed here. The script only checks for `cargo` (install it
# with rustup).
set -euo pipefail

PACKAGES=(
    libgstreamer1.0-dev
    libgstreamer-plugins-base1.0-dev
    gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad
    # x264enc: H.264 video, the codec surveillance recorders write (cnncodec eval-video)
    gstreamer1.0-plugins-ugly
    # avdec_msmpeg4 (vtest.avi) and avenc_png, used by scripts/fetch-data.sh and
    # scripts/make-sample.sh
    gstreamer1.0-libav
    gstreamer1.0-tools
    # rsvg-convert: PNG of the RD plots of `cnncodec eval`
    librsvg2-bin
    meson
    ninja-build
    pkg-config
    gcc
    python3
    ca-certificates
)

log() { printf 'install-deps: %s\n' "$*"; }

missing=()
for p in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
    [[ "$status" == "installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    log "all ${#PACKAGES[@]} Debian packages already installed"
else
    log "installing: ${missing[*]}"
    if [[ $EUID -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        log "error: not root and sudo not found; run as root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
fi

if command -v cargo >/dev/null 2>&1; then
    log "cargo found: $(command -v cargo)"
else
    log "error: 'cargo' not found on PATH: install the Rust toolchain (rustup, stable) and re-run." >&2
    exit 1
fi
