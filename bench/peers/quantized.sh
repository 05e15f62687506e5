#!/usr/bin/env bash
# Vitrine's quantized index (`vitrine-bench index --quantized`: inverted lists over one-byte codes,
# exact re-ranking from the mapped vectors) beside FAISS's IndexIVFScalarQuantizer (8-bit codes)
# with the same lists, training sample, probes and re-ranking, on the same data, in one run.
# Makes bench/peers/.venv (faiss-cpu, numpy from PyPI) on first use, builds vitrine-bench in
# release, then runs bench/peers/quantized_peers.py; arguments pass through, e.g.
#   bench/peers/quantized.sh --data /var/tmp/vq-10m --n 10000000 --json-out /tmp/quantized.json
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=bench/peers/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import faiss, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet faiss-cpu numpy
fi
swift build -c release --product vitrine-bench >&2
exec "$venv/bin/python" bench/peers/quantized_peers.py --vitrine-bench .build/release/vitrine-bench "$@"
