#!/usr/bin/env bash
# Evaluates search quality on the fixture catalog (Tests/Fixtures/eval-catalog: 320 products
# over Fashion-MNIST photos, 48 queries, graded judgements; tools/make_eval_catalog.py) in every
# mode, as the test command does on every run, and keeps the report: .ci/artifacts/eval/
# report.json, report.html and report.png (the HTML page in headless Chromium). QUALITY.md
# records the table this prints.
#   scripts/eval-fixture.sh [--vitrine PATH] [--model DIR]      (defaults: the debug build, the tiny fixture model)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
vitrine="$(swift build --show-bin-path)/vitrine"
model=Tests/Fixtures/models/tiny-clip-p32
while [ $# -gt 0 ]; do
    case "$1" in
        --vitrine) vitrine=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        *) echo "eval-fixture: unknown argument $1" >&2; exit 2 ;;
    esac
done
out=.ci/artifacts/eval
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

python3 tools/make_eval_catalog.py --images "$work/catalog" >/dev/null
"$vitrine" ingest "$work/catalog/products.csv" --data "$work/data" --model "$model" --json >/dev/null
"$vitrine" eval --data "$work/data" --queries "$work/catalog/queries.jsonl" --qrels "$work/catalog/judgements.qrels" \
    --mode clip,keyword --k 10 --run-out "$out/runs" --report "$out/report.html" --json >"$out/report.json"
"$vitrine" eval compare "$out/report.json" "$out/report.json" --json >/dev/null
# The table, for people and for QUALITY.md.
"$vitrine" eval --data "$work/data" --queries "$work/catalog/queries.jsonl" --qrels "$work/catalog/judgements.qrels" \
    --mode clip,keyword --k 10
if command -v chromium >/dev/null; then
    timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1400 \
        --screenshot="$out/report.png" "file://$root/$out/report.html" >/dev/null 2>&1
    [ -s "$out/report.png" ] || { echo "eval-fixture: Chromium made no screenshot of the report" >&2; exit 1; }
fi
echo "eval-fixture: report in $out/ (report.html, report.json, report.png, runs/)"
