#!/usr/bin/env bash
# Evaluates search quality on the fixture catalog (Tests/Fixtures/eval-catalog: 320 products
# over Fashion-MNIST photos, 48 queries, graded judgements; tools/make_eval_catalog.py) in every
# mode, as the test command does on every run, and keeps the report: .ci/artifacts/eval/
# report.json, report.html, report.png (the HTML page in headless Chromium) and the run files.
# Fails when keyword search or the text index (the real all-MiniLM-L6-v2) falls below its floor
# (QUALITY.md records the table this prints; the CLIP figures are a random-weight model's, at
# chance, so they have no floor).
#   scripts/eval-fixture.sh [--vitrine PATH] [--model DIR]      (defaults: the debug build, the tiny fixture model)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
vitrine=""
model=Tests/Fixtures/models/tiny-clip-p32
# The text index's sentence model: the real all-MiniLM-L6-v2 (tools/fetch_minilm.sh).
text_embedder=${VITRINE_TEXT_EMBEDDER:-.fixtures-minilm/all-MiniLM-L6-v2}
while [ $# -gt 0 ]; do
    case "$1" in
        --vitrine) vitrine=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        *) echo "eval-fixture: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$vitrine" ] || vitrine="$(swift build --show-bin-path)/vitrine"
out=.ci/artifacts/eval
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -rf "$out/report.json" "$out/report.html" "$out/report.png" "$out/runs"

python3 tools/make_eval_catalog.py --images "$work/catalog" >/dev/null
"$vitrine" ingest "$work/catalog/products.csv" --data "$work/data" --model "$model" --text-embedder "$text_embedder" --json >/dev/null
"$vitrine" eval --data "$work/data" --queries "$work/catalog/queries.jsonl" --qrels "$work/catalog/judgements.qrels" \
    --mode clip,keyword,text,hybrid --k 10 --run-out "$out/runs" --report "$out/report.html" --json \
    --fail-below keyword:ndcg@10=0.75 --fail-below text:ndcg@10=0.90 >"$out/report.json"
# The table, for people and for QUALITY.md (from the report, not a second run).
python3 - "$out/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
k = report["k"]
names = [f"{m}@{k}" for m in ("recall", "precision", "mrr", "ndcg", "map", "hit_rate")]
print(f"{report['queries']} judged queries, k = {k}")
print("mode      " + "".join(n.ljust(14) for n in names) + "p50 ms  p99 ms")
for mode in report["modes"]:
    print(mode["mode"].ljust(10) + "".join(f"{mode['metrics'][n]:.3f}".ljust(14) for n in names)
          + f"{mode['latency_ms']['p50']:.1f}".ljust(8) + f"{mode['latency_ms']['p99']:.1f}")
PY
if command -v chromium >/dev/null; then
    timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1400 \
        --screenshot="$out/report.png" "file://$root/$out/report.html" >/dev/null 2>&1 || true
    [ -s "$out/report.png" ] || { echo "eval-fixture: Chromium made no screenshot of the report" >&2; exit 1; }
fi
echo "eval-fixture: report in $out/ (report.html, report.json, report.png, runs/)"
