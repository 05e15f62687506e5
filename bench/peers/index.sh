#!/usr/bin/env bash
# Vitrine's vector index beside hnswlib and FAISS (IndexHNSWFlat) on the same data, in one run.
# Makes bench/peers/.venv (hnswlib, faiss-cpu, numpy from PyPI) on first use, builds vitrine in
# release, then runs bench/peers/index_peers.py; arguments pass through, e.g.
#   bench/peers/index.sh --n 100000 --dim 512 --ef 16,32,64,128 --json-out /tmp/index.json
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=bench/peers/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import hnswlib, faiss, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet hnswlib faiss-cpu numpy
fi
swift build -c release --product vitrine-bench >&2
exec "$venv/bin/python" bench/peers/index_peers.py --vitrine-bench .build/release/vitrine-bench "$@"
