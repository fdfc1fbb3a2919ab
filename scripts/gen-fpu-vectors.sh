#!/bin/sh
# Regenerates crates/mips/tests/fpu-vectors/vectors.txt: builds gen.c as a
# static MIPS64 R2 n64 binary and runs it under QEMU user mode with a MIPS64
# Release 2 CPU (legacy NaN encoding). Needs gcc-mips64el-linux-gnuabi64 and
# qemu-user (Debian/Ubuntu package names).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/crates/mips/tests/fpu-vectors"
CC=${CC:-mips64el-linux-gnuabi64-gcc}
QEMU=${QEMU:-qemu-mips64el}
CPU=${QEMU_CPU_MODEL:-MIPS64R2-generic}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$CC" -static -O1 -march=mips64r2 -mabi=64 -mhard-float -Wall -Wextra \
    -o "$tmp/gen" "$dir/gen.c"
{
    echo "# $("$QEMU" --version | head -n 1), -cpu $CPU"
    "$QEMU" -cpu "$CPU" "$tmp/gen"
} >"$tmp/vectors.txt"
grep -q '^# end [0-9]* vectors$' "$tmp/vectors.txt"
mv "$tmp/vectors.txt" "$dir/vectors.txt"
echo "wrote $dir/vectors.txt: $(grep -c '^[0-9a-f]' "$dir/vectors.txt") vectors"
