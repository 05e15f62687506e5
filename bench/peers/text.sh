#!/usr/bin/env bash
# Vitrine's BERT models next to sentence-transformers (issue 18), same inputs, same threads, one run:
# the cross-encoder reranker (pairs/s) against CrossEncoder.predict, and all-MiniLM-L6-v2
# (sentences/s) against SentenceTransformer.encode. Each round runs, one after another,
#   vitrine-bench rerank → CrossEncoder → vitrine-bench minilm → SentenceTransformer,
# so that drift in the machine's load reaches both sides; the table gives every round, the median
# and the best, and Vitrine ÷ peer (targets: ≥ 2× for both).
#
#   bench/peers/text.sh [THREADS=2] [SECONDS=10] [ROUNDS=3] [BATCH=32]
#
# Environment (defaults in brackets): CROSSENCODER [.fixtures-minilm/crossencoder],
# MINILM [.fixtures-minilm/all-MiniLM-L6-v2], SENTENCES [bench/sentences.txt], MAX_LENGTH [128],
# QUERIES [16], PER_QUERY [32] (the pairs: QUERIES × PER_QUERY from SENTENCES),
# VITRINE_BENCH [.build/release/vitrine-bench], PYTHON [tools/.venv/bin/python].
# Uses the release binary as it is (swift build -c release --product vitrine-bench) and the venv
# of tools/ (torch, transformers, sentence-transformers). Results: the table on stdout and
# bench/peers/.cache/text-results.json. Measure on a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
case "${1:-}" in -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
threads=${1:-2} seconds=${2:-10} rounds=${3:-3} batch=${4:-32}
crossencoder=${CROSSENCODER:-.fixtures-minilm/crossencoder}
minilm=${MINILM:-.fixtures-minilm/all-MiniLM-L6-v2}
sentences=${SENTENCES:-bench/sentences.txt}
max_length=${MAX_LENGTH:-128} queries=${QUERIES:-16} per_query=${PER_QUERY:-32}
bench=${VITRINE_BENCH:-.build/release/vitrine-bench}
py=${PYTHON:-tools/.venv/bin/python}

fail() { echo "error: $*" >&2; exit 1; }
[ -x "$bench" ] || fail "$bench is missing: swift build -c release --product vitrine-bench (or set VITRINE_BENCH)"
[ -x "$py" ] || fail "$py is missing: the venv of tools/ with torch, transformers and sentence-transformers (or set PYTHON)"
for dir in "$crossencoder" "$minilm"; do [ -d "$dir" ] || fail "no model directory $dir (tools/fetch_minilm.sh)"; done
[ -f "$sentences" ] || fail "no sentences file $sentences"

# The same thread count for every engine: OpenMP and MKL (PyTorch), the tokenizers' Rayon pool,
# and --threads for Vitrine and the peers (torch.set_num_threads, one inter-op thread).
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads RAYON_NUM_THREADS=$threads RAYON_RS_NUM_CPUS=$threads
export TRANSFORMERS_VERBOSITY=error HF_HUB_OFFLINE=1 PYTHONWARNINGS=ignore

work=$(mktemp -d /tmp/vitrine-bench-text.XXXXXX)
trap 'rm -rf "$work"' EXIT
pairs="$work/pairs.jsonl"
"$py" bench/peers/text_peers.py make-pairs --sentences "$sentences" --out "$pairs" \
    --queries "$queries" --per-query "$per_query"

read -r load1 _ < /proc/loadavg
echo "== $(nproc) CPUs, load average $load1; $threads threads, batch $batch, ${seconds} s per engine, $rounds rounds" >&2
awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }' \
    && echo "warning: the 1-minute load is $load1 (> 0.5): other processes are using the cores, the numbers will be low" >&2

# step NAME COMMAND...: runs one engine, its stdout into $work/NAME.out; a failure is reported
# and leaves that cell empty rather than stopping the run.
step() {
    local name=$1; shift
    echo "-- $name" >&2
    "$@" >"$work/$name.out" 2>"$work/$name.err" \
        || { echo "warning: $name failed (exit $?); last lines of its stderr:" >&2; tail -5 "$work/$name.err" >&2; rm -f "$work/$name.out"; }
}

for i in $(seq 1 "$rounds"); do
    echo "== round $i of $rounds" >&2
    step "r$i-vitrine-rerank" "$bench" rerank --model "$crossencoder" --pairs "$pairs" --threads "$threads" \
        --batch "$batch" --max-length "$max_length" --seconds "$seconds" --precision fp32 --json
    step "r$i-peer-rerank" "$py" bench/peers/text_peers.py rerank --model "$crossencoder" --pairs "$pairs" \
        --threads "$threads" --batch "$batch" --max-length "$max_length" --seconds "$seconds"
    step "r$i-vitrine-embed" "$bench" minilm --model "$minilm" --sentences "$sentences" --precision fp32 \
        --threads "$threads" --batch "$batch" --seconds "$seconds" --json
    step "r$i-peer-embed" "$py" bench/peers/text_peers.py embed --model "$minilm" --sentences "$sentences" \
        --threads "$threads" --batch "$batch" --seconds "$seconds"
done

mkdir -p bench/peers/.cache
"$py" - "$work" "$rounds" bench/peers/.cache/text-results.json "bench/peers/text.sh $*" <<'PY'
import json, statistics, sys
from pathlib import Path

work, rounds, out, command = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]

def rows(name):
    """The JSON objects a step printed: one per line, or one (pretty-printed) document or array."""
    path = work / f"{name}.out"
    if not path.exists():
        return []
    text = path.read_text().strip()
    try:
        doc = json.loads(text)
        return doc if isinstance(doc, list) else [doc]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]

def field(row, *names):
    for name in names:
        if name in row:
            return row[name]
    return None

def fp32(items):
    """Vitrine's fp32 row (the peers have one row, without a precision)."""
    for row in items:
        if row.get("precision", "fp32") == "fp32":
            return row
    return None

tasks = [("rerank", "cross-encoder pairs/s", ("pairs_per_second", "pairsPerSecond")),
         ("embed", "MiniLM sentences/s", ("sentences_per_second", "sentencesPerSecond"))]
results = {"command": command, "rounds": []}
table = {}
for task, label, keys in tasks:
    for side in ("vitrine", "peer"):
        cells = []
        for i in range(1, rounds + 1):
            row = fp32(rows(f"r{i}-{side}-{task}"))
            cells.append(row)
            if row is not None:
                results["rounds"].append({"round": i, "task": task, "side": side, **row})
        table[task, side] = cells

def rate(row, keys):
    return None if row is None else field(row, *keys)

def fmt(x, ratio=False):
    return "—" if x is None else (f"{x:.2f}×" if ratio else f"{x:.1f}")

header = "| measure | engine | " + " | ".join(f"round {i}" for i in range(1, rounds + 1)) + " | median | best |"
print(header)
print("|---|---|" + "--:|" * (rounds + 2))
summary = {}
for task, label, keys in tasks:
    v = [rate(r, keys) for r in table[task, "vitrine"]]
    p = [rate(r, keys) for r in table[task, "peer"]]
    peer_name = next((r["peer"] for r in table[task, "peer"] if r), "sentence-transformers")
    for name, values in (("Vitrine fp32", v), (peer_name, p)):
        done = [x for x in values if x is not None]
        print(f"| {label} | {name} | " + " | ".join(fmt(x) for x in values)
              + f" | {fmt(statistics.median(done) if done else None)} | {fmt(max(done) if done else None)} |")
    # Ratios within a round compare runs seconds apart; the median of those is the headline.
    ratios = [a / b if a and b else None for a, b in zip(v, p)]
    done = [x for x in ratios if x is not None]
    vb, pb = [x for x in v if x], [x for x in p if x]
    best = max(vb) / max(pb) if vb and pb else None
    median = statistics.median(done) if done else None
    print(f"| {label} | **Vitrine ÷ peer** | " + " | ".join(fmt(x, True) for x in ratios)
          + f" | **{fmt(median, True)}** | {fmt(best, True)} |")
    summary[task] = {"ratio_median": median, "ratio_best_over_best": best, "target": 2.0}

# The same work on both sides: tokens per item as each side counted them.
print()
for task, label, _ in tasks:
    v = next((r for r in table[task, "vitrine"] if r), None)
    p = next((r for r in table[task, "peer"] if r), None)
    vt = None if v is None else field(v, "mean_tokens", "meanTokens")
    pt = None if p is None else p.get("mean_tokens")
    if vt is not None and pt is not None:
        note = "" if abs(vt - pt) < 0.01 else " ← they differ: the two sides do not see the same tokens"
        print(f"{label}: mean tokens per item, Vitrine {vt:.2f}, peer {pt:.2f}{note}")
peer = next((r for rs in table.values() for r in rs if r and "versions" in r), None)
if peer:
    print("peer: " + ", ".join(f"{k} {v}" for k, v in peer["versions"].items())
          + f"; attention {peer.get('attention')}; torch threads {peer.get('torch_threads')}")
results["summary"] = summary
out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
print(f"(all rows: {out})")
PY
