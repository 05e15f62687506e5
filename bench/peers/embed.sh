#!/usr/bin/env bash
# CLIP embedding speed of Vitrine next to PyTorch and ONNX Runtime, same checkpoint, same images,
# same run. Sets up what it needs, then hands over to embed_peers.py (its docstring has the method).
#
#   bench/peers/embed.sh [--model DIR] [--seconds S] [--batch 1,8,32,64] [--images PATH ...]
#                        [--precisions fp32,int8] [--rounds N] [--threads N] [--vitrine BIN]
#
# 1. A virtual environment in bench/peers/.venv (ignored by git) with torch, transformers, Pillow,
#    onnxruntime, onnx and numpy from PyPI; made once, and again when the package list below changes.
# 2. The release `vitrine` binary, built when missing or older than the sources (unless --vitrine).
# 3. PyTorch (eager and sdpa), ONNX Runtime (and its own int8 when int8 is asked for), then `vitrine-bench embed` at each precision, one after another.
# Results: one table on stdout and bench/peers/.cache/embed-results.json. Measure on a quiet machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$here/.venv"

# Versions measured in BENCHMARKS.md; change them here to measure others (the venv is remade).
packages=(torch==2.15.0 transformers==5.24.0 pillow==13.0.0 onnxruntime==1.32.0 onnx==1.23.2 numpy==2.4.6)

fail() { echo "error: $*" >&2; exit 1; }

vitrine=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --vitrine) vitrine="${args[$((i + 1))]:-}" ;;
        --vitrine=*) vitrine="${args[$i]#--vitrine=}" ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    esac
done

# 1. The virtual environment.
source "$here/common.sh"
ensure_venv .packages "${packages[@]}"

# 2. The vitrine binary.
if [ -z "$vitrine" ]; then
    vitrine=$(ensure_vitrine)
    args+=(--vitrine "$vitrine")
fi

# 3. The measurements.
export EMBED_PEERS_COMMAND="bench/peers/embed.sh $*"
exec "$venv/bin/python" "$here/embed_peers.py" run "${args[@]}"
