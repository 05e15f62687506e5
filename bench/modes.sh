#!/usr/bin/env bash
# Text search per mode under load (BENCHMARKS.md, "Search modes"): one `vitrine serve` over a
# synthetic catalog of COUNT products (vitrine-bench catalog: varied names and descriptions, so the
# full-text index has real work) and its text index (TEXT_EMBEDDER, default the real
# all-MiniLM-L6-v2 of tools/fetch_minilm.sh, built by `vitrine reindex --text-embedder`), with the
# reranker loaded, then wrk at CLIENTS connections for SECONDS per mode, alternating the modes
# ROUNDS times: clip, keyword, text, hybrid, hybrid + rerank.
# Distinct queries (bench/sentences.txt), k 10. Uses the release binaries (swift build -c release).
# MODES="clip keyword" runs those only. DATA=DIR reuses a catalog made by an earlier run (vitrine-bench catalog + reindex --text-embedder).
#   [WORDS=N] [TEXT_EMBEDDER=DIR] [DATA=DIR] [MODES=...] bench/modes.sh MODEL RERANKER [COUNT=100000] [ROUNDS=2] [CLIENTS=4] [SECONDS=15] [PRECISION=int8]
# e.g. bench/modes.sh models/vit-b32-random .fixtures-minilm/crossencoder
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=$1 reranker=$2 count=${3:-100000} rounds=${4:-2} clients=${5:-4} seconds=${6:-15} precision=${7:-int8}
bin="$root/.build/release"
work=$(mktemp -d /tmp/vitrine-bench-modes.XXXXXX)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y wrk >/dev/null; }; }

catalog=${DATA:-$work/catalog}
if [ -z "${DATA:-}" ]; then
    echo "== catalog of $count products" >&2
    "$bin/vitrine-bench" catalog --model "$model" --count "$count" --data "$catalog" --json >/dev/null
    text_embedder=${TEXT_EMBEDDER:-$root/.fixtures-minilm/all-MiniLM-L6-v2}
    echo "== text index with $text_embedder ($precision)" >&2
    "$bin/vitrine" reindex --data "$catalog" --text-embedder "$text_embedder" --precision "${precision/auto/fp32}" --json >&2
fi
# WORDS=N keeps the first N words of each query (shoppers type a few words; most lines of
# bench/sentences.txt are whole product descriptions).
python3 -c "import sys, urllib.parse; n = int(sys.argv[2]); [print(urllib.parse.quote(' '.join(l.split()[:n] if n else l.split()))) for l in open(sys.argv[1]) if l.strip()]" \
    "$root/bench/sentences.txt" "${WORDS:-0}" >"$work/queries.txt"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# PRECISION=auto starts the server without --precision: photos at the recorded precision, text
# queries at the one it calibrates (see /readyz), as a user who gives no flag gets.
precision_flag=(--precision "$precision")
[ "$precision" = auto ] && precision_flag=()
"$bin/vitrine" serve --data "$catalog" --port "$port" "${precision_flag[@]}" --reranker "$reranker" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
    sleep 0.2
done
load() {  # load NAME QUERY-SUFFIX: 3 s of warm-up, then SECONDS of wrk; one line
    local run=(wrk -t "$clients" -c "$clients" --timeout 30s -s "$root/bench/peers/load.lua" "http://127.0.0.1:$port"
               -- get "/api/v1/search?k=10$2&q=" "$work/queries.txt")
    "${run[@]:0:5}" -d 3s "${run[@]:5}" >/dev/null
    echo "$1 $("${run[@]:0:5}" -d "${seconds}s" "${run[@]:5}" | tail -1)"
}
echo "== $clients clients, ${seconds} s per mode, $rounds rounds, text tower $precision, reranker $reranker" >&2
echo "== precision as served: $(curl -s "http://127.0.0.1:$port/readyz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["precision"])')" >&2
modes=${MODES:-clip keyword text hybrid hybrid+rerank}
for i in $(seq 1 "$rounds"); do
    for mode in $modes; do
        case $mode in
            clip) load clip "" ;;
            hybrid+rerank) load hybrid+rerank "&mode=hybrid&rerank=true" ;;
            *) load "$mode" "&mode=$mode" ;;
        esac
    done
done | tee "$work/results.txt"
python3 - "$work/results.txt" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    name, _, data = line.partition(" ")
    r = json.loads(data)
    rows.setdefault(name, []).append((r["requests"] / r["seconds"], r["latency_us"]["p50"] / 1000, r["latency_us"]["p99"] / 1000, sum(r["errors"].values())))
print("| mode | round | req/s | p50 ms | p99 ms | errors |")
print("|---|--:|--:|--:|--:|--:|")
for name, runs in rows.items():
    for i, (rps, p50, p99, errors) in enumerate(runs, 1):
        print(f"| {name} | {i} | {rps:.1f} | {p50:.1f} | {p99:.1f} | {errors} |")
PY
