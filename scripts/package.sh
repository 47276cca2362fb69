#!/usr/bin/env bash
# Builds every Lambda function as a zip with cargo-lambda: x86-64 always, arm64 when the
# aarch64 standard library can be installed.
#
#   scripts/package.sh FUNCTION...
#
# Writes dist/x86_64/<fn>.zip and dist/arm64/<fn>.zip (each zip holds one `bootstrap`).
# cargo-lambda must be on PATH with zig reachable (make package puts .venv-lambda/bin first).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -gt 0 ] || { echo "usage: package.sh FUNCTION..." >&2; exit 2; }
functions=("$@")
bins=()
for f in "${functions[@]}"; do bins+=(--bin "$f"); done

# cargo-lambda writes both architectures to the same target/lambda/<bin>/ folder, so a
# bootstrap of one architecture would otherwise sit next to the other's zip.
clean_lambda_dirs() {
    for f in "${functions[@]}"; do rm -rf "target/lambda/$f"; done
}

build_arch() { # FLAG DIST_DIR
    local flag=$1 out=dist/$2 started=$SECONDS
    echo "== package: cargo lambda build --release $flag (${functions[*]})"
    clean_lambda_dirs
    cargo lambda build --release "$flag" --output-format zip "${bins[@]}"
    rm -rf "$out"
    mkdir -p "$out"
    for f in "${functions[@]}"; do
        cp "target/lambda/$f/bootstrap.zip" "$out/$f.zip"
    done
    clean_lambda_dirs
    echo "== package: $2 done in $((SECONDS - started)) s"
}

build_arch --x86-64 x86_64

# The aarch64 std may not be installable on every machine (no network for toolchains):
# arm64 is then skipped, and said so, rather than failing the package.
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu; then
    build_arch --arm64 arm64
else
    rm -rf dist/arm64
    echo "== package: arm64 SKIPPED: 'rustup target add aarch64-unknown-linux-gnu' failed" \
        "(the aarch64 standard library could not be installed here); x86-64 zips only"
fi

echo "== package: zips"
for zip in dist/*/*.zip; do
    bytes=$(stat -c %s "$zip")
    awk -v z="$zip" -v b="$bytes" 'BEGIN { printf "  %-32s %9d bytes  %6.2f MiB\n", z, b, b / 1048576 }'
done
