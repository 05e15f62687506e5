#!/usr/bin/env bash
# The int8 product on AVX-512 VNNI and AMX: Vitrine's packed kernels against oneDNN's s8 GEMM (+ the
# dequantizing pass), one thread each, alternating rounds, medians (BENCHMARKS.md, "Encoders").
# Compiles bench/int8_kernel.c against Sources/CVitrineKernels with the toolchain's clang and
# Debian's libdnnl; needs a CPU with AVX-512 VNNI.
#   bench/int8-kernel.sh [ROUNDS=5]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/vitrine-int8-kernel.XXXXXX)
trap 'rm -rf "$work"' EXIT
kernels="$root/Sources/CVitrineKernels"
clang -O2 -I"$kernels/include" -I"$kernels" "$root/bench/int8_kernel.c" "$kernels"/*.c -o "$work/int8_kernel" -ldnnl -lm
OMP_NUM_THREADS=1 "$work/int8_kernel" "${1:-5}"
