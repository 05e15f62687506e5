#!/usr/bin/env bash
# Cluster backends against the embedded ones, in one run on one machine (BENCHMARKS.md, "Storage
# backends"):
#   1. ingest: the same photos into a data directory, and into PostgreSQL + S3 (index in a
#      directory), alternating, PAIRS times; images/s of each and their ratio.
#   2. lookup: a synthetic catalog of COUNT products (vitrine-bench catalog), copied to PostgreSQL +
#      S3 by `vitrine migrate`, then `vitrine-bench lookup` on both, alternating: the catalog lookup of
#      a results page and a whole similar-product search, p50 and p99.
#   3. search: the same catalog copied into PostgreSQL + S3 + Milvus (`vitrine-bench cluster`, the
#      copy timed), then whole text searches (int8 text tower) at CLIENTS clients for 15 s on each
#      side, alternating, PAIRS rounds: requests/s, p50, p99 and their ratios. Then the same
#      through `vitrine serve` under wrk; after each round a "stages" line (bench/metrics_delta.py)
#      says where its time went: each latency histogram of the server and of Milvus's search path
#      over the round, and the CPU seconds of the server and of each backing server.
# Uses the release binaries (swift build -c release) and the servers of scripts/servers.sh (started
# here and stopped at the end unless .servers/env already names running ones).
#   bench/cluster.sh MODEL PHOTOS [COUNT=100000] [PAIRS=2] [IMAGES=300]     (COUNT=0: ingest only)
#   PARTS="lookup search" CLIENTS=4 bench/cluster.sh …                      (a subset of the parts)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=$1 photos=$2 count=${3:-100000} pairs=${4:-2} images=${5:-300}
parts=${PARTS:-ingest lookup search} clients=${CLIENTS:-4}
wants() { case " $parts " in *" $1 "*) return 0 ;; *) return 1 ;; esac }
bin="$root/.build/release"
work=$(mktemp -d /tmp/vitrine-bench-cluster.XXXXXX)
started_servers=""
if [ ! -f "$root/.servers/env" ]; then
    "$root/scripts/servers.sh" start
    started_servers=1
fi
cleanup() {
    rm -rf "$work"
    if [ -n "$started_servers" ]; then "$root/scripts/servers.sh" stop; fi
}
trap cleanup EXIT
# shellcheck disable=SC1091
source "$root/.servers/env"
export PGPASSWORD=$VITRINE_TEST_POSTGRES_PASSWORD AWS_ACCESS_KEY_ID=$VITRINE_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$VITRINE_TEST_S3_SECRET_KEY
if [ -n "${VITRINE_TEST_MILVUS_TOKEN:-}" ]; then export MILVUS_TOKEN=$VITRINE_TEST_MILVUS_TOKEN; fi
cluster() {  # cluster NAME: the flags of a schema and a bucket of that name
    echo "--catalog $VITRINE_TEST_POSTGRES_URL?schema=$1 --blobs s3://${1//_/-}/photos?endpoint=$VITRINE_TEST_S3_ENDPOINT"
}

# The first IMAGES photos of PHOTOS, as a folder of their own.
mkdir -p "$work/photos"
find "$photos" -type f \( -name '*.jpg' -o -name '*.png' -o -name '*.webp' \) | sort | head -n "$images" | while read -r f; do
    rel=${f#"$photos"/}
    mkdir -p "$work/photos/$(dirname "$rel")"
    cp "$f" "$work/photos/$rel"
done

wants ingest && echo "== ingest of $images photos ($pairs pairs, embedded first then cluster)" >&2
wants ingest && for i in $(seq 1 "$pairs"); do
    "$bin/vitrine" ingest "$work/photos" --data "$work/ingest-embedded-$i" --model "$model" --precision int8 --json \
        | python3 -c "import json,sys; r=json.load(sys.stdin); print('ingest embedded', r['images_per_second'] if 'images_per_second' in r else r)"
    # shellcheck disable=SC2046
    "$bin/vitrine" ingest "$work/photos" --data "$work/ingest-cluster-$i" --model "$model" --precision int8 --json $(cluster "bench_ingest_$i$$") \
        | python3 -c "import json,sys; r=json.load(sys.stdin); print('ingest cluster', r['images_per_second'] if 'images_per_second' in r else r)"
done

[ "$count" -gt 0 ] || exit 0
"$bin/vitrine-bench" catalog --model "$model" --count "$count" --data "$work/catalog" --json >/dev/null
if wants lookup; then
echo "== lookup at $count products" >&2
cat >"$work/cluster.json" <<JSON
{"data": "$work/catalog-cluster", "catalog": "$VITRINE_TEST_POSTGRES_URL?schema=bench_lookup$$",
 "blobs": "s3://bench-lookup$$/photos?endpoint=$VITRINE_TEST_S3_ENDPOINT"}
JSON
"$bin/vitrine" migrate --from "$work/catalog" --to "$work/cluster.json" --json \
    | python3 -c "import json,sys; r=json.load(sys.stdin); print('migrate', r['copied'], 'products in', round(r['seconds'],1), 's, verified', r['queriesCompared'], 'queries')"
for i in $(seq 1 "$pairs"); do
    "$bin/vitrine-bench" lookup --data "$work/catalog" --json | sed 's/^/lookup embedded /'
    # shellcheck disable=SC2046
    "$bin/vitrine-bench" lookup --data "$work/catalog-cluster" --catalog "$VITRINE_TEST_POSTGRES_URL?schema=bench_lookup$$" \
        --blobs "s3://bench-lookup$$/photos?endpoint=$VITRINE_TEST_S3_ENDPOINT" --json | sed 's/^/lookup cluster /'
done
fi

if wants search; then
    [ -n "${VITRINE_TEST_MILVUS_URL:-}" ] || { echo "no Milvus in .servers/env: skipping search" >&2; exit 0; }
    echo "== text search at $clients clients over $count products: embedded vs PostgreSQL + S3 + Milvus" >&2
    "$bin/vitrine-bench" cluster --model "$model" --precision int8 --embedded "$work/catalog" --data "$work/search-cluster" \
        --catalog "$VITRINE_TEST_POSTGRES_URL?schema=bench_search$$" --blobs "s3://bench-search$$/photos?endpoint=$VITRINE_TEST_S3_ENDPOINT" \
        --vectors "${VITRINE_TEST_MILVUS_URL%/*}/bench_search$$" --clients "$clients" --rounds "$pairs" --queries "$root/bench/sentences.txt"

    # The same two stores through `vitrine serve` (int8, query batching on as by default) under
    # wrk at CLIENTS connections, alternating: what a client of the service sees.
    command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y wrk >/dev/null; }; }
    python3 -c "import sys, urllib.parse; [print(urllib.parse.quote(l.strip())) for l in open(sys.argv[1]) if l.strip()]" \
        "$root/bench/sentences.txt" >"$work/queries.txt"
    cpu_seconds() {  # cpu_seconds PID: "name seconds" lines, the CPU time used so far by the server PID and each backing server
        local run="$root/.servers/run" postmaster
        postmaster=$(head -n 1 "$(cat "$run/postgres.dir")/data/postmaster.pid")
        {
            echo "serve $1"
            pgrep -s "$(cat "$run/milvus/pid")" | sed 's/^/milvus /'
            { echo "$postmaster"; pgrep -P "$postmaster"; } | sed 's/^/postgres /'
            echo "seaweedfs $(cat "$run/seaweedfs/pid")"
        } | while read -r name p; do
            echo "$name $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)"
        done | awk -v hz="$(getconf CLK_TCK)" '{ t[$1] += $2 } END { for (n in t) printf "%s %.2f\n", n, t[n] / hz }' | sort
    }
    scrape() {  # scrape PORT: the metrics of the server on PORT, then Milvus's
        curl -s "http://127.0.0.1:$1/metrics"
        [ -z "${VITRINE_TEST_MILVUS_METRICS:-}" ] || curl -s "http://$VITRINE_TEST_MILVUS_METRICS/metrics"
    }
    serve_load() {  # serve_load NAME ARGS...: serve, wait until ready, 3 s warm-up, 15 s of wrk; one JSON line
        local name=$1 port; shift
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        "$bin/vitrine" serve --port "$port" --precision int8 "$@" >"$work/serve-$name.log" 2>&1 &
        local pid=$!
        for _ in $(seq 1 600); do
            [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
            sleep 0.2
        done
        local run=(wrk -t "$clients" -c "$clients" --timeout 30s -s "$root/bench/peers/load.lua" "http://127.0.0.1:$port"
                   -- get "/api/v1/search?k=10&q=" "$work/queries.txt")
        "${run[@]:0:5}" -d 3s "${run[@]:5}" >/dev/null
        scrape "$port" >"$work/metrics-before"
        cpu_seconds "$pid" >"$work/cpu-before"
        echo "serve $name $("${run[@]:0:5}" -d 15s "${run[@]:5}" | tail -1)"
        scrape "$port" >"$work/metrics-after"
        # Where the round's time went: each stage's histogram over the round (Vitrine's, and
        # Milvus's search path), and the CPU seconds the server and each backing server used in it
        # (two cores give 30 s in 15 s).
        local cpu; cpu=$(cpu_seconds "$pid" | paste "$work/cpu-before" - | awk '{ printf "%s=%.2f ", $1, $4 - $2 }')
        # shellcheck disable=SC2086
        echo "stages $name $("$root/bench/metrics_delta.py" "$work/metrics-before" "$work/metrics-after" $cpu)"
        kill -INT "$pid"; wait "$pid" || true
    }
    for i in $(seq 1 "$pairs"); do
        serve_load embedded --data "$work/catalog"
        serve_load cluster --data "$work/search-serve" --catalog "$VITRINE_TEST_POSTGRES_URL?schema=bench_search$$" \
            --blobs "s3://bench-search$$/photos?endpoint=$VITRINE_TEST_S3_ENDPOINT" --vectors "${VITRINE_TEST_MILVUS_URL%/*}/bench_search$$"
    done
fi
