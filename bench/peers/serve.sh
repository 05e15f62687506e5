#!/usr/bin/env bash
# The search service under load: `vitrine serve` next to the seed's architecture (FastAPI +
# transformers CLIP + Milvus Lite), same catalog, checkpoint, queries and concurrency, same run.
# Sets up what it needs, then hands over to serve_peers.py (its docstring has the method).
#
#   bench/peers/serve.sh [--model DIR] [--count N] [--data DIR] [--clients 1,4,16] [--seconds S]
#                        [--configs int8,int8-nobatch,fp32,fp32-nobatch,bf16,bf16-nobatch] [--queries N]
#                        [--image-clients 1,4] [--skip-peer] [--vitrine BIN]
#
# 1. The virtual environment bench/peers/.venv (shared with embed.sh; ignored by git) with torch,
#    transformers, FastAPI, uvicorn, pymilvus and milvus-lite from PyPI; wrk from apt if missing.
# 2. The release `vitrine` binary, built when missing or older than the sources (unless --vitrine).
# 3. The catalog (`vitrine-bench catalog`, N products, default 100,000) when DIR has none, and its
#    export for the peer (`vitrine-bench export`) when missing or older than the catalog.
# 4. Each Vitrine configuration, then the peer: start, warm up, wrk at each client count, stop.
# Results: one table on stdout and bench/peers/.cache/serve/serve-results.json. Measure on a quiet machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$here/.venv"

# The torch/transformers pins are embed.sh's, so both scripts share one environment.
packages=(torch==2.15.0 transformers==5.24.0 pillow==13.0.0 numpy==2.4.6
          fastapi==0.163.2 uvicorn==0.54.0 pymilvus==3.0.2 milvus-lite==3.2.2)

fail() { echo "error: $*" >&2; exit 1; }
command_line="bench/peers/serve.sh $*"

model="$root/.fixtures-full/clip-vit-base-patch32-random"
count=100000
data=""
vitrine=""
pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model="$2"; shift 2 ;;
        --count) count="$2"; shift 2 ;;
        --data) data="$2"; shift 2 ;;
        --vitrine) vitrine="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) pass+=("$1"); shift ;;
    esac
done
[ -f "$model/config.json" ] || fail "no model at $model (make it with tools/make_fixtures.sh --full, or give --model DIR)"
model=$(cd "$model" && pwd)
data=${data:-$here/data/catalog-$count}

# 1. wrk and the virtual environment.
if ! command -v wrk >/dev/null; then
    echo "installing wrk (apt)" >&2
    { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; } >&2 || fail "cannot install wrk with apt"
fi
source "$here/common.sh"
ensure_venv .packages-serve "${packages[@]}"

# 2. The vitrine binary.
if [ -z "$vitrine" ]; then
    vitrine=$(ensure_vitrine)
fi

# 3. The catalog and its export for the peer (Milvus Lite is reloaded when the export changes).
if [ ! -f "$data/catalog.sqlite" ]; then
    echo "building a $count-product catalog in $data (vitrine-bench catalog)" >&2
    (cd "$root" && "$(dirname "$vitrine")/vitrine-bench" catalog --model "$model" --count "$count" --data "$data") >&2 \
        || fail "vitrine-bench catalog failed"
fi
export_dir="$here/.cache/serve/export-$(basename "$data")"
if [ ! -f "$export_dir/vectors.npy" ] || [ "$data/catalog.sqlite" -nt "$export_dir/vectors.npy" ]; then
    "$(dirname "$vitrine")/vitrine-bench" export --data "$data" --out "$export_dir" >&2 || fail "vitrine-bench export failed"
    rm -rf "$export_dir/milvus"
fi

# 4. The measurements.
export SERVE_PEERS_COMMAND="$command_line"
exec "$venv/bin/python" "$here/serve_peers.py" run --vitrine "$vitrine" --data "$data" --export "$export_dir" \
    --model "$model" "${pass[@]}"
