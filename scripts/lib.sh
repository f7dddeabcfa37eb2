# Set-up shared by the training and measuring scripts; sourced (`. scripts/lib.sh` from the
# repository root after `cd "$(dirname "$0")/.."`), not run.
#
#   setup_cli [release|debug]       install what the CLI needs, obtain the training and
#                                   evaluation images unless a data folder is there, build
#                                   the CLI; sets $bin
#   extra_split NAME                the extra split train-full or train-texture in data/,
#                                   fetched (scripts/fetch-data.sh) unless there
#   model_at COMMIT NAME FILE       the built-in model NAME as of COMMIT into FILE unless there

setup_cli() {
    bash scripts/install-deps.sh
    [ -d data/splits ] || [ -d ../shared/data/splits ] || bash scripts/fetch-data.sh
    case "${1:-release}" in
    release)
        cargo build --release -p cnncodec-cli --locked
        bin=target/release/cnncodec
        ;;
    debug)
        cargo build -p cnncodec-cli --locked
        bin=target/debug/cnncodec
        ;;
    *) echo "setup_cli: release or debug, not '$1'" >&2; return 2 ;;
    esac
}

extra_split() {
    local option
    case "$1" in
    train-full) option=--full-res ;;
    train-texture) option=--texture ;;
    *) echo "extra_split: no split '$1'" >&2; return 2 ;;
    esac
    [ -f "data/splits/$1.txt" ] || bash scripts/fetch-data.sh "$option"
}

# Written then renamed: a `git show` cut short must not leave a file that a re-run of the
# script would take for the start model.
model_at() {
    local commit="$1" name="$2" file="$3"
    [ -f "$file" ] && return 0
    mkdir -p "$(dirname "$file")"
    if ! git show "$commit:models/$name.cnnmodel" > "$file.part"; then
        rm -f "$file.part"
        echo "model_at: no models/$name.cnnmodel at commit $commit" >&2
        return 1
    fi
    mv "$file.part" "$file"
}
