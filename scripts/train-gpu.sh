#!/usr/bin/env bash
# The paper-size q50 model (64 x 20 RecCNN) trained on one NVIDIA GPU in at most 10 minutes,
# for a lent device machine that has the driver and NVRTC but no Rust, GStreamer or data:
#
#   scripts/train-gpu.sh prepare      here (Debian 12, CPU): builds the CLI with the `cuda`
#                                     feature and packs into .gpu/ (git-ignored) the binary,
#                                     the GStreamer libraries and plugins the real codec in the
#                                     loop needs (jpegenc/jpegdec, app, core), and the training
#                                     images as 8-bit gray PNGs; prints the bundle's size (the
#                                     device tool carries at most 64 MiB)
#   scripts/train-gpu.sh run [STEPS]  there (carry .gpu): trains for STEPS steps (default
#                                     6000) under a 9-minute timeout, checkpointing every 250,
#                                     into $OUT (or gpu-out/): model or last checkpoint,
#                                     train.log, and a short report
#
# The run: `cnncodec train --backend cuda` from the default jpeg-q50 (its ComCNN, the ladder's,
# kept; its 32 x 10 RecCNN grown to 64 x 20 computing the same function, Net2Net), one RecCNN
# stage at compact quality 50 with the stock jpegenc/jpegdec in the loop, batch 64 of 48x48
# patches, each the hardest of 4 windows, from the images at 1, 0.5 and 0.35 of their size (the
# data for it is prepared once, on the machine's CPU), learning rate 3e-4 -> 1e-5.
# Killed by the timeout, it leaves its last checkpoint, which comes back as the model (the
# device's $OUT starts empty on every call, so a later call starts afresh). Back here,
# measure it with `cnncodec eval --split dev-eval --model gpu-out/model.cnnmodel@30,40,50,60,70`
# and `scripts/measure-reference.sh gpu-out/model.cnnmodel`.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-}"
bundle=.gpu

prepare() {
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    bash scripts/install-deps.sh
    [ -d data/splits ] || [ -d ../shared/data/splits ] || bash scripts/fetch-data.sh
    cargo build --release --locked -p cnncodec-cli --features cuda
    rm -rf "$bundle"
    local tools="$bundle/tools"
    mkdir -p "$tools/lib" "$tools/plugins" "$bundle/data/splits"
    cp target/release/cnncodec "$tools/"
    strip "$tools/cnncodec" || true
    local gst_dir
    gst_dir="$(pkg-config --variable=pluginsdir gstreamer-1.0)"
    local plugins=(libgstcoreelements.so libgstapp.so libgstjpeg.so libgstvideoconvertscale.so)
    for p in "${plugins[@]}"; do cp "$gst_dir/$p" "$tools/plugins/"; done
    cp "$(pkg-config --variable=pluginscannerdir gstreamer-1.0)/gst-plugin-scanner" "$tools/" || true
    # Every library the binary and the plugins load, except the C runtime the device has.
    for f in "$tools/cnncodec" "$tools"/plugins/*.so; do
        ldd "$f" | awk '/=> \// {print $3}'
    done | sort -u | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*|libgcc_s)\.so' \
        | while read -r lib; do cp -L "$lib" "$tools/lib/"; done
    # Compressed, the programs take a third of their size: the device tool carries 64 MiB.
    tar -C "$bundle" -cJf "$bundle/tools.tar.xz" tools
    rm -rf "$tools"
    # The training images as gray PNGs (the trainer reads luma only): a third of the bytes.
    local data
    data="$( [ -d data/splits ] && echo data || echo ../shared/data )"
    for split in train train-video; do
        cp "$data/splits/$split.txt" "$bundle/data/splits/"
        while read -r f; do
            [ -n "$f" ] || continue
            mkdir -p "$bundle/data/$(dirname "$f")"
            gst-launch-1.0 -q filesrc location="$data/$f" ! pngdec ! videoconvert \
                ! video/x-raw,format=GRAY8 ! avenc_png pred=mixed compression-level=9 \
                ! filesink location="$bundle/data/$f"
        done < "$data/splits/$split.txt"
    done
    du -sh "$bundle"
    [ "$(du -sm "$bundle" | cut -f1)" -le 62 ] || { echo "the bundle is over 62 MiB: carry less" >&2; exit 1; }
    echo "prepared $bundle: run 'scripts/train-gpu.sh run' on the device with carry [\".gpu\"]"
}

run() {
    local steps="${1:-6000}"
    local out="${OUT:-gpu-out}"
    mkdir -p "$out"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/report.txt"
    local tools=/tmp/cnncodec-gpu/tools
    mkdir -p /tmp/cnncodec-gpu && tar -C /tmp/cnncodec-gpu -xJf "$bundle/tools.tar.xz"
    export LD_LIBRARY_PATH="$tools/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # NVRTC (burn-cuda compiles its kernels at run time): the CUDA toolkit's or a wheel's.
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
             $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, "cuda_nvrtc", "lib") for p in nvidia.__path__))' 2>/dev/null); do
        [ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
    done
    export GST_PLUGIN_SYSTEM_PATH="$tools/plugins" GST_PLUGIN_PATH=""
    export GST_PLUGIN_SCANNER="$tools/gst-plugin-scanner" GST_REGISTRY=/tmp/cnncodec-gst-registry.bin
    local started=$SECONDS
    set +e
    timeout 540 "$tools/cnncodec" train --backend cuda --data "$bundle/data" \
        --split train,train-video --out "$out/run" --quality 50 --init jpeg-q50 \
        --rec-init grow --features 64 --depth 20 --stages 1 --steps "$steps" \
        --batch 64 --patch 48 --rec-lr 3e-4:1e-5 --seed 64 --checkpoint-every 250 \
        --scales 1,0.5,0.35 --patch-candidates 4 --name jpeg-q50-gpu > "$out/train.out" 2>&1
    local rc=$?
    set -e
    echo "train exit $rc after $((SECONDS - started)) s (124: stopped by the 9-minute timeout, checkpointed)" | tee -a "$out/report.txt"
    tail -c 2000 "$out/train.out" | tr '\r' '\n' | tail -5 | tee -a "$out/report.txt"
    local model="$out/run/model.cnnmodel"
    [ -f "$model" ] || model="$out/run/checkpoint.cnnmodel"
    [ -f "$model" ] && cp "$model" "$out/model.cnnmodel"
    cp "$out/run/train.log" "$out/train.log" 2>/dev/null || true
    grep -c 'net=RecCNN' "$out/train.log" 2>/dev/null | sed 's/^/steps logged: /' | tee -a "$out/report.txt" || true
}

case "$what" in
    prepare) prepare ;;
    run) shift; run "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
