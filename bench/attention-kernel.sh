#!/usr/bin/env bash
# Attention per (sequence, head): the f32 kernel against AMX's bf16 kernel (the int8 models'), one
# thread, alternating rounds, medians (BENCHMARKS.md, "Encoders"). Compiles bench/attention_kernel.c
# against Sources/CVitrineKernels with the toolchain's clang; needs a CPU with AMX-BF16.
#   bench/attention-kernel.sh [ROUNDS=7]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/vitrine-attention-kernel.XXXXXX)
trap 'rm -rf "$work"' EXIT
kernels="$root/Sources/CVitrineKernels"
clang -O2 -I"$kernels/include" -I"$kernels" "$root/bench/attention_kernel.c" "$kernels"/*.c -o "$work/attention_kernel" -lm
"$work/attention_kernel" "${1:-7}"
