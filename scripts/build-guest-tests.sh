#!/bin/sh
# Builds the differential test programs (crates/mips/tests/guest/*.c, *.S)
# into static MIPS64 Release 2 little-endian n64 executables, without libc:
# each program has its own _start and makes raw Linux syscalls.
#
# Usage: scripts/build-guest-tests.sh [OUTDIR]   (default: target/guest-tests)
# Needs gcc-mips64el-linux-gnuabi64 (Debian/Ubuntu package name); CC overrides.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/crates/mips/tests/guest"
out=${1:-"$root/target/guest-tests"}
CC=${CC:-mips64el-linux-gnuabi64-gcc}

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "build-guest-tests: $CC not found (apt-get install gcc-mips64el-linux-gnuabi64)" >&2
    exit 1
fi
mkdir -p "$out"

# -mno-abicalls/-fno-pic: plain absolute code, no $gp/$t9 conventions to set
# up; -G0: no small-data section; no memcpy/memset idiom recognition inside
# the runtime's own memcpy.
flags="-static -nostdlib -ffreestanding -O2 -march=mips64r2 -mabi=64 \
 -mno-abicalls -fno-pic -G0 -fno-tree-loop-distribute-patterns -fno-math-errno \
 -Wall -Wextra -Wno-unused-function -e _start"

for f in "$src"/*.c "$src"/*.S; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    name=${name%.*}
    tmp="$out/$name.tmp.$$"
    # shellcheck disable=SC2086
    "$CC" $flags -o "$tmp" "$f"
    mv "$tmp" "$out/$name"
done
echo "built $(ls "$src"/*.c "$src"/*.S 2>/dev/null | wc -l) guest programs in $out"
