#!/usr/bin/env python3
"""Reference values for `vitrine eval`'s metrics, computed by ranx and by pytrec_eval.

Vitrine's metrics must equal both libraries' on the same TREC files (issue 17). This script is
the bridge: it computes recall@k, precision@k, mrr@k, ndcg@k, map@k and hit_rate@k with each
library separately and prints them as JSON, and it writes (and re-checks) the committed fixtures
under Tests/Fixtures/eval/ so that the Swift tests can compare without Python. The definitions,
and every point where the two libraries differ, are in docs/eval-metrics.md.

    python tools/eval_reference.py --qrels Q --run R --k 10 [--k 5 ...]
    python tools/eval_reference.py --generate Tests/Fixtures/eval --seed 17
    python tools/eval_reference.py --check Tests/Fixtures/eval

Needs `pip install ranx==0.3.21 pytrec-eval-terrier==0.5.11` (make a venv in .eval-venv/).
The first ranx call in a fresh environment JIT-compiles its numba kernels (1-2 minutes; numba
caches them in site-packages afterwards).

Every evaluation also checks itself, and stops with an AssertionError if a check fails: mrr@k
derived from trec_eval's success_1..k equals recip_rank on the run cut to its top k; ranx's
formulas on trec_eval's order equal pytrec_eval; every ranx/pytrec_eval difference sits on a
query whose tie order differs; and `spec_metrics` (docs/eval-metrics.md as code) equals
pytrec_eval to 1e-12.

Output of one evaluation (all values are full-precision floats):
    {"k": [...], "queries": [...evaluated query ids, sorted...],
     "missing_from_run": [...], "not_in_qrels": [...],
     "pytrec_eval": {"mean": {metric: v}, "per_query": {qid: {metric: v}}},
     "ranx":        {"mean": ..., "per_query": ...},
     "ranx_trec_order": {"mean": ...},      # ranx's formulas on trec_eval's ordering
     "ranx_tie_order_differs": {qid: first 1-based rank where ranx's order != trec_eval's},
     "disagreements": [{"query", "metric", "ranx", "pytrec_eval"}, ...]}

--generate writes <case>.qrels, <case>.run and expected.json, where each case holds the same
fields in a compact form: "metrics": [names], and values as arrays in that order ("mean": [..],
"per_query": {qid: [..]}), rounded to 12 decimals; "libraries_agree" says whether ranx and
pytrec_eval agree on the case. --check recomputes every case and compares (exit 1 on mismatch).

Per-query values cover every query of the qrels file (a query that has at least one judgement
line); a query missing from the run scores 0 everywhere; run queries absent from the qrels are
ignored (listed in not_in_qrels). Means are each library's own mean over those queries.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import sys
import warnings
from typing import Dict, List, Tuple

METRICS = ("recall", "precision", "mrr", "ndcg", "map", "hit_rate")
TOLERANCE = 1e-9
# ranx hashes docids to uint64 and numba warns on every call; harmless.
warnings.filterwarnings("ignore", message="unsafe cast from uint64 to int64")
FIXTURE_KS = [1, 3, 5, 10, 20]

Qrels = Dict[str, Dict[str, int]]
Run = Dict[str, Dict[str, float]]


# ---------------------------------------------------------------- reading --------------------

def read_qrels(path: str) -> Qrels:
    """TREC qrels: `qid iter docid rel`. Duplicate judgements are an error (trec_eval refuses)."""
    qrels: Qrels = collections.OrderedDict()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 4:
                sys.exit(f"{path}:{n}: expected 4 fields `qid 0 docid rel`, got {len(parts)}")
            qid, _, docid, rel = parts
            if docid in qrels.setdefault(qid, {}):
                sys.exit(f"{path}:{n}: duplicate judgement for {qid} {docid}")
            qrels[qid][docid] = int(rel)
    return qrels


def read_run(path: str) -> Run:
    """TREC run: `qid Q0 docid rank score tag`. The rank column is ignored (both libraries do)."""
    run: Run = collections.OrderedDict()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 6:
                sys.exit(f"{path}:{n}: expected 6 fields `qid Q0 docid rank score tag`, got {len(parts)}")
            qid, _, docid, _, score, _ = parts
            if docid in run.setdefault(qid, {}):
                sys.exit(f"{path}:{n}: duplicate document {docid} for query {qid}")
            run[qid][docid] = float(score)
    return run


# ---------------------------------------------------------------- trec_eval's order ----------

def trec_order(docs: Dict[str, float]) -> List[str]:
    """trec_eval's ranking (form_res_rels.c, comp_sim_docno): score descending, compared after
    conversion to C `float` (float32), ties broken by docid DEscending in strcmp (UTF-8 byte)
    order. The file's line order and rank column play no part."""
    import numpy as np

    by_docid_desc = sorted(docs, key=lambda d: d.encode("utf-8"), reverse=True)
    return sorted(by_docid_desc, key=lambda d: -float(np.float32(docs[d])))  # stable


# ---------------------------------------------------------------- the spec ------------------

def spec_metrics(judged: Dict[str, int], docs: Dict[str, float], ks: List[int]) -> Dict[str, float]:
    """docs/eval-metrics.md as code: what Vitrine implements. Checked against pytrec_eval on
    every evaluation this script makes (the libraries are the reference; this is the reading)."""
    ranking = trec_order(docs)
    rel = [judged.get(d, 0) for d in ranking]          # unjudged = 0; negative grades stay < 1
    n_rel = sum(1 for g in judged.values() if g >= 1)  # R: judged with grade >= 1
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)
    out = {}
    for k in ks:
        top = rel[:k]
        hits = sum(1 for g in top if g >= 1)
        first = next((i + 1 for i, g in enumerate(top) if g >= 1), None)
        ap, seen = 0.0, 0
        for i, g in enumerate(top):
            if g >= 1:
                seen += 1
                ap += seen / (i + 1)
        dcg = 0.0
        for i, g in enumerate(top):
            if g > 0:
                dcg += g / math.log2(i + 2)
        idcg = 0.0
        for i, g in enumerate(ideal[:k]):
            idcg += g / math.log2(i + 2)
        out[f"recall@{k}"] = hits / n_rel if n_rel else 0.0
        out[f"precision@{k}"] = hits / k
        out[f"mrr@{k}"] = 1.0 / first if first else 0.0
        out[f"ndcg@{k}"] = dcg / idcg if idcg > 0 else 0.0
        out[f"map@{k}"] = ap / n_rel if n_rel else 0.0
        out[f"hit_rate@{k}"] = 1.0 if hits else 0.0
    return out


# ---------------------------------------------------------------- pytrec_eval ----------------

def eval_pytrec(qrels: Qrels, run: Run, ks: List[int], queries: List[str]) -> dict:
    import pytrec_eval

    kmax = max(ks)
    cut = ",".join(str(k) for k in ks)
    measures = {f"P.{cut}", f"recall.{cut}", f"ndcg_cut.{cut}", f"map_cut.{cut}",
                "success." + ",".join(str(r) for r in range(1, kmax + 1))}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
    # A query missing from the run is passed with no documents: trec_eval then scores it 0
    # (what `trec_eval -c` does); pytrec_eval would otherwise leave it out.
    full_run = {q: dict(run.get(q, {})) for q in queries}
    raw = evaluator.evaluate(full_run)

    # mrr@k has no trec_eval measure (recip_rank has no cutoff). It is derived from success_r,
    # r = 1..k, which uses trec_eval's own ordering: RR@k = 1 / (first r <= k with success_r = 1).
    # Cross-checked below against recip_rank on the run truncated to its top k in trec order.
    per_query: Dict[str, Dict[str, float]] = {}
    for q in queries:
        v = raw[q]
        first = next((r for r in range(1, kmax + 1) if v[f"success_{r}"] == 1.0), None)
        out = {}
        for k in ks:
            out[f"recall@{k}"] = v[f"recall_{k}"]
            out[f"precision@{k}"] = v[f"P_{k}"]
            out[f"mrr@{k}"] = 1.0 / first if first is not None and first <= k else 0.0
            out[f"ndcg@{k}"] = v[f"ndcg_cut_{k}"]
            out[f"map@{k}"] = v[f"map_cut_{k}"]
            out[f"hit_rate@{k}"] = v[f"success_{k}"]
        per_query[q] = out

    rr_eval = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
    for k in ks:
        truncated = {}
        for q in queries:
            top = trec_order(full_run[q])[:k]
            truncated[q] = {d: full_run[q][d] for d in top}
        rr = rr_eval.evaluate(truncated)
        for q in queries:
            if abs(rr[q]["recip_rank"] - per_query[q][f"mrr@{k}"]) > 0.0:
                raise AssertionError(f"mrr@{k} for {q}: success-derived {per_query[q][f'mrr@{k}']}"
                                     f" != recip_rank on truncated run {rr[q]['recip_rank']}")

    names = metric_names(ks)
    mean = {m: pytrec_eval.compute_aggregated_measure(m, [per_query[q][m] for q in queries])
            for m in names}
    return {"mean": mean, "per_query": per_query}


# ---------------------------------------------------------------- ranx -----------------------

def metric_names(ks: List[int]) -> List[str]:
    return [f"{m}@{k}" for k in ks for m in METRICS]


def _ranx_evaluate(qrels_obj, run_obj, ks: List[int]) -> dict:
    from ranx import evaluate

    names = metric_names(ks)
    means = evaluate(qrels_obj, run_obj, names, make_comparable=True)
    if len(names) == 1:
        means = {names[0]: means}
    per_query: Dict[str, Dict[str, float]] = collections.defaultdict(dict)
    for m in names:
        for q, v in run_obj.scores[m].items():
            per_query[q][m] = float(v)
    return {"mean": {m: float(means[m]) for m in names}, "per_query": dict(per_query)}


def eval_ranx(qrels_path: str, run_path: str, ks: List[int]):
    """ranx exactly as a user would run it on the files: Qrels/Run.from_file + evaluate(...,
    make_comparable=True). Returns the result and ranx's effective document order per query."""
    from ranx import Qrels as RQrels, Run as RRun

    qrels_obj = RQrels.from_file(qrels_path, kind="trec")
    run_obj = RRun.from_file(run_path, kind="trec")
    result = _ranx_evaluate(qrels_obj, run_obj, ks)
    # evaluate() sorted run_obj in place (make_comparable re-sorts): this is the order it used.
    order = {q: list(run_obj.run[q].keys()) for q in run_obj.run}
    return result, order


def eval_ranx_trec_order(qrels_path: str, run: Run, ks: List[int]) -> dict:
    """ranx's formulas applied to trec_eval's ordering: scores replaced by strictly decreasing
    ones (n - position), so no tie is left for ranx to break."""
    from ranx import Qrels as RQrels, Run as RRun

    qrels_obj = RQrels.from_file(qrels_path, kind="trec")
    relabelled = {}
    for q, docs in run.items():
        order = trec_order(docs)
        relabelled[q] = {d: float(len(order) - i) for i, d in enumerate(order)}
    return _ranx_evaluate(qrels_obj, RRun.from_dict(relabelled), ks)


# ---------------------------------------------------------------- one evaluation -------------

def evaluate_files(qrels_path: str, run_path: str, ks: List[int]) -> dict:
    ks = sorted(set(ks))
    if not ks or ks[0] < 1:
        sys.exit("--k must be positive")
    qrels = read_qrels(qrels_path)
    run = read_run(run_path)
    queries = sorted(qrels)
    names = metric_names(ks)

    pt = eval_pytrec(qrels, run, ks, queries)
    rx, rx_order = eval_ranx(qrels_path, run_path, ks)
    rx_trec = eval_ranx_trec_order(qrels_path, run, ks)

    kmax = max(ks)
    tie_differs = {}
    for q in queries:
        mine = trec_order(run.get(q, {}))[:kmax]
        theirs = rx_order.get(q, [])[:kmax]
        if mine != theirs:
            tie_differs[q] = next(i + 1 for i in range(len(mine)) if mine[i] != theirs[i])

    disagreements = []
    for q in queries:
        for m in names:
            a, b = rx["per_query"][q][m], pt["per_query"][q][m]
            if abs(a - b) > TOLERANCE:
                disagreements.append({"query": q, "metric": m, "ranx": a, "pytrec_eval": b})
    # Self-checks: every ranx/pytrec_eval difference must come from tie order alone.
    for q in queries:
        for m in names:
            if abs(rx_trec["per_query"][q][m] - pt["per_query"][q][m]) > TOLERANCE:
                raise AssertionError(f"ranx on trec order != pytrec_eval: {q} {m}")
    if any(d["query"] not in tie_differs for d in disagreements):
        raise AssertionError("ranx and pytrec_eval differ on a query whose order is the same")
    for q in queries:
        mine = spec_metrics(qrels[q], run.get(q, {}), ks)
        for m in names:
            if abs(mine[m] - pt["per_query"][q][m]) > 1e-12:
                raise AssertionError(f"spec != pytrec_eval: {q} {m} {mine[m]!r} "
                                     f"{pt['per_query'][q][m]!r}")

    return {
        "k": ks,
        "queries": queries,
        "missing_from_run": [q for q in queries if q not in run],
        "not_in_qrels": sorted(q for q in run if q not in qrels),
        "pytrec_eval": pt,
        "ranx": rx,
        "ranx_trec_order": {"mean": rx_trec["mean"]},
        "ranx_tie_order_differs": tie_differs,
        "disagreements": disagreements,
    }


def versions() -> dict:
    from importlib.metadata import version

    return {"ranx": version("ranx"), "pytrec_eval-terrier": version("pytrec_eval-terrier"),
            "python": sys.version.split()[0]}


# ---------------------------------------------------------------- fixtures -------------------

def f32(x: float) -> str:
    """A score as Vitrine writes it: a float32 value, shortest round-trip decimal."""
    import numpy as np

    v = np.float32(x)
    s = np.format_float_positional(v, unique=True, trim="-")
    assert np.float32(float(s)) == v
    return s


def write_case(directory: str, name: str, qrels_lines: List[Tuple], run_lines: List[Tuple],
               rank_override: Dict[Tuple[str, str], int] | None = None) -> None:
    """run_lines: (qid, docid, score-string) in file order; ranks are 1.. per query in file order
    unless overridden (to show that the rank column is ignored)."""
    with open(os.path.join(directory, f"{name}.qrels"), "w", encoding="utf-8") as f:
        for qid, docid, rel in qrels_lines:
            f.write(f"{qid} 0 {docid} {rel}\n")
    ranks: Dict[str, int] = collections.Counter()
    with open(os.path.join(directory, f"{name}.run"), "w", encoding="utf-8") as f:
        for qid, docid, score in run_lines:
            ranks[qid] += 1
            rank = (rank_override or {}).get((qid, docid), ranks[qid])
            f.write(f"{qid} Q0 {docid} {rank} {score} vitrine\n")


def in_trec_order(qid: str, docs: Dict[str, str]) -> List[Tuple[str, str, str]]:
    """Run lines for one query, written in trec_eval's order (as Vitrine writes its runs)."""
    order = trec_order({d: float(s) for d, s in docs.items()})
    return [(qid, d, docs[d]) for d in order]


def case_graded(rng: random.Random):
    """Graded judgements 0..3, distinct scores, runs of 8..25 documents."""
    qrels, run = [], []
    for qi in range(8):
        q = f"g{qi + 1}"
        pool = [f"sku-{qi}{j:03d}" for j in range(40)]
        judged = [pool[j] for j in range(40) if rng.random() < 0.45]
        for d in judged:
            qrels.append((q, d, rng.choice([0, 0, 1, 1, 2, 3])))
        n = 8 + rng.randrange(18)
        retrieved = [pool[j] for j in sorted(range(40), key=lambda _: rng.random())[:n]]
        scores = sorted({round(rng.uniform(-0.2, 0.95), 6) for _ in range(n * 2)}, reverse=True)[:n]
        docs = {d: f32(s) for d, s in zip(retrieved, scores)}
        run += in_trec_order(q, docs)
    return qrels, run, None


def case_ties(rng: random.Random):
    """Equal scores inside the top k, straddling k = 1, 3, 5, 10, with relevant and non-relevant
    documents in the same tie group; docids chosen so that only a DEscending strcmp order gives
    trec_eval's result (p9 before p10, lower case before upper case). At most 15 lines per
    query, written in trec_eval's order; one query's rank column is deliberately wrong."""
    qrels = [
        ("t1", "p10", 1), ("t1", "p9", 0),                      # tie at rank 1: p9 first
        ("t2", "a", 0), ("t2", "B", 2), ("t2", "b", 1),          # 'b' > 'a' > 'B'
        ("t3", "d03", 3), ("t3", "d04", 1), ("t3", "d06", 2), ("t3", "d01", 0),
        ("t4", "x1", 1), ("t4", "x2", 1), ("t4", "x3", 2), ("t4", "x4", 0),
        ("t5", "all-0", 0), ("t5", "m2", 1),
        ("t6", "r1", 1), ("t6", "r2", 2), ("t6", "r3", 3),
    ]
    run = []
    run += in_trec_order("t1", {"p10": "0.5", "p9": "0.5", "p8": "0.25"})
    run += in_trec_order("t2", {"a": "0.75", "B": "0.75", "b": "0.75", "c": "0.5"})
    # tie group across ranks 4..7 (straddles k = 5)
    run += in_trec_order("t3", {"d00": "0.9", "d01": "0.8", "d02": "0.7",
                                "d03": "0.5", "d04": "0.5", "d05": "0.5", "d06": "0.5",
                                "d07": "0.25", "d08": "0.125"})
    # tie group across ranks 9..12 (straddles k = 10), 15 lines
    t4 = {f"y{i:02d}": f32(0.95 - 0.05 * i) for i in range(8)}
    t4.update({"x1": "0.5", "x2": "0.5", "x3": "0.5", "x4": "0.5"})
    t4.update({"z1": "0.25", "z2": "0.125", "z3": "0.0625"})
    run += in_trec_order("t4", t4)
    # all 12 documents tied
    run += in_trec_order("t5", {f"m{i}": "0.3" for i in range(12)})
    # ties with negative scores
    run += in_trec_order("t6", {"r1": "-0.5", "r2": "-0.5", "r3": "-1", "n1": "-0.25"})
    # rank column contradicting the scores: both libraries ignore it
    override = {("t3", "d00"): 9, ("t3", "d08"): 1}
    return qrels, run, override


def case_edge(rng: random.Random):
    """Queries with no relevant document (only grade 0), with negative grades, with only negative
    grades; a qrels query missing from the run; a run query missing from the qrels; runs shorter
    than k (1 and 3 documents); more relevant documents than k; relevant documents judged but
    never retrieved; a relevant document at rank exactly 10 and one at rank 11."""
    qrels = [
        ("e-norel", "a", 0), ("e-norel", "b", 0),
        ("e-neg", "a", -1), ("e-neg", "b", 2), ("e-neg", "c", 0), ("e-neg", "d", -2),
        ("e-allneg", "a", -1), ("e-allneg", "b", -2),
        ("e-missing", "a", 1), ("e-missing", "b", 3),
        ("e-one", "a", 2), ("e-one", "z", 1),
        ("e-three", "c", 1), ("e-three", "q", 3),
    ]
    qrels += [("e-many", f"r{i:02d}", 1 + i % 3) for i in range(25)]
    qrels += [("e-k10", "hit10", 1), ("e-k10", "hit11", 3)]
    run = []
    run += in_trec_order("e-norel", {"a": "0.9", "b": "0.8", "c": "0.7"})
    run += in_trec_order("e-neg", {"a": "0.9", "d": "0.85", "b": "0.8", "c": "0.7", "e": "0.6"})
    run += in_trec_order("e-allneg", {"a": "0.9", "c": "0.5"})
    run += in_trec_order("e-one", {"a": "0.4"})
    run += in_trec_order("e-three", {"x": "0.3", "c": "0.2", "y": "0.1"})
    run += in_trec_order("e-many", {f"r{i:02d}": f32(1 - i / 64) for i in range(0, 40, 2)})
    k10 = {f"n{i}": f32(1 - i / 32) for i in range(9)}
    k10.update({"hit10": f32(1 - 9 / 32), "hit11": f32(1 - 10 / 32), "n99": f32(1 - 11 / 32)})
    run += in_trec_order("e-k10", k10)
    run += in_trec_order("e-unjudged-query", {"a": "0.9", "b": "0.8"})
    return qrels, run, None


def random_case(rng: random.Random, prefix: str, n_queries: int, run_len: Tuple[int, int],
                quantum: float, p_missing: float):
    qrels, run = [], []
    for qi in range(n_queries):
        q = f"{prefix}{qi:03d}"
        pool = [f"{rng.randrange(16**5):05x}" for _ in range(90)]
        pool = list(dict.fromkeys(pool))
        for d in pool[: 3 + rng.randrange(14)]:
            qrels.append((q, d, rng.choice([0, 0, 0, 1, 1, 2, 3])))
        if rng.random() < p_missing:
            continue  # in qrels, not in run
        n = run_len[0] + rng.randrange(run_len[1] - run_len[0] + 1)
        # retrieved: mostly from the judged head of the pool, some unjudged
        cand = pool[: 20 + rng.randrange(40)]
        retrieved = sorted(cand, key=lambda _: rng.random())[:n]
        # coarse scores make ties frequent
        docs = {d: f32(math.floor(rng.random() / quantum) * quantum) for d in retrieved}
        run += in_trec_order(q, docs)
    return qrels, run, None


def case_unsorted_ties(rng: random.Random):
    """Short runs (<= 15 lines) whose tied documents are listed in ASCENDING docid order. trec_eval
    re-sorts them (docid descending); ranx keeps the file order. The libraries disagree here by
    design: Vitrine follows trec_eval."""
    qrels = [("u1", "a", 1), ("u1", "b", 0), ("u2", "d1", 2), ("u2", "d2", 1), ("u2", "d3", 0)]
    run = [("u1", "a", "0.5"), ("u1", "b", "0.5"), ("u1", "c", "0.5"),
           ("u2", "d0", "0.9"), ("u2", "d1", "0.5"), ("u2", "d2", "0.5"), ("u2", "d3", "0.5"),
           ("u2", "d4", "0.1")]
    return qrels, run, None


def case_float32_ties(rng: random.Random):
    """Scores that differ as float64 but are equal as float32: trec_eval (which stores scores as
    C float) sees a tie and puts the larger docid first; ranx (float64) does not."""
    qrels = [("f1", "a", 1), ("f2", "a", 1), ("f2", "b", 2)]
    run = [("f1", "a", "1.00000001"), ("f1", "b", "1"),
           ("f2", "a", "0.300000001"), ("f2", "b", "0.3000000001"), ("f2", "c", "0.2")]
    return qrels, run, None


CASES = [
    # name, builder, agrees-with-ranx-by-construction
    ("graded", case_graded, True),
    ("ties", case_ties, True),
    ("edge", case_edge, True),
    ("random", lambda rng: random_case(rng, "r", 60, (1, 15), 1 / 32, 0.08), True),
    ("random_long", lambda rng: random_case(rng, "l", 24, (16, 40), 1 / 16, 0.0), False),
    ("unsorted_ties", case_unsorted_ties, False),
    ("float32_ties", case_float32_ties, False),
]


def generate(directory: str, seed: int) -> None:
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(seed)
    expected = {
        "generator": f"tools/eval_reference.py --generate {directory} --seed {seed}",
        "versions": versions(),
        "tolerance": TOLERANCE,
        "cases": {},
    }
    for name, build, agrees in CASES:
        qrels, run, override = build(rng)
        write_case(directory, name, qrels, run, override)
        result = evaluate_files(os.path.join(directory, f"{name}.qrels"),
                                os.path.join(directory, f"{name}.run"), FIXTURE_KS)
        if agrees and (result["disagreements"] or result["ranx_tie_order_differs"]):
            raise AssertionError(f"case {name} was built to agree but ranx differs: "
                                 f"{result['ranx_tie_order_differs']}")
        if not agrees and not result["disagreements"]:
            raise AssertionError(f"case {name} was built to show a disagreement but has none")
        result["libraries_agree"] = agrees
        expected["cases"][name] = rounded(tabular(result))
        print(f"{name}: {len(result['queries'])} queries, "
              f"{len(result['ranx_tie_order_differs'])} with ranx tie order != trec_eval's, "
              f"{len(result['disagreements'])} metric disagreements", file=sys.stderr)
    with open(os.path.join(directory, "expected.json"), "w", encoding="utf-8") as f:
        f.write(dumps(expected) + "\n")


def tabular(result: dict) -> dict:
    """The fixture form of a result: metric names once, then values as arrays in that order
    (mean: [..], per_query: {qid: [..]}), which keeps expected.json under half the size."""
    names = metric_names(result["k"])
    out = dict(result, metrics=names)
    for lib in ("pytrec_eval", "ranx", "ranx_trec_order"):
        block = result[lib]
        out[lib] = {"mean": [block["mean"][m] for m in names]}
        if "per_query" in block:
            out[lib]["per_query"] = {q: [v[m] for m in names] for q, v in block["per_query"].items()}
    return out


def rounded(obj):
    """Values rounded to 12 decimals (error <= 5e-13, far inside the 1e-9 tolerance) to keep the
    committed fixture small."""
    if isinstance(obj, float):
        return round(obj, 12)
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v) for v in obj]
    return obj


def dumps(obj, indent: int = 0) -> str:
    """JSON, one line per flat object (a query's metrics, a mean), so diffs stay readable."""
    pad = " " * indent
    if isinstance(obj, dict) and obj and any(isinstance(v, (dict, list)) for v in obj.values()):
        items = [f'{pad} {json.dumps(k)}: {dumps(v, indent + 1).lstrip()}'
                 for k, v in sorted(obj.items())]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and any(isinstance(v, (dict, list)) for v in obj):
        items = [dumps(v, indent + 1) for v in obj]
        return pad + "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return pad + json.dumps(obj, sort_keys=True)


def check(directory: str) -> int:
    with open(os.path.join(directory, "expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    failures = 0
    failed_cases = set()
    for name, want in expected["cases"].items():
        before = failures
        got = evaluate_files(os.path.join(directory, f"{name}.qrels"),
                             os.path.join(directory, f"{name}.run"), want["k"])
        names = want["metrics"]
        if sorted(got["queries"]) != sorted(want["queries"]):
            failures += 1
            print(f"{name}: query set changed", file=sys.stderr)
            continue
        for lib in ("pytrec_eval", "ranx"):
            for q, values in want[lib]["per_query"].items():
                for m, v in zip(names, values):
                    g = got[lib]["per_query"][q][m]
                    if abs(g - v) > TOLERANCE:
                        failures += 1
                        print(f"{name} {lib} {q} {m}: expected {v!r}, got {g!r}", file=sys.stderr)
            for m, v in zip(names, want[lib]["mean"]):
                if abs(got[lib]["mean"][m] - v) > TOLERANCE:
                    failures += 1
                    print(f"{name} {lib} mean {m}: expected {v!r}, got {got[lib]['mean'][m]!r}",
                          file=sys.stderr)
        if {q: int(r) for q, r in got["ranx_tie_order_differs"].items()} != \
                want["ranx_tie_order_differs"]:
            failures += 1
            print(f"{name}: ranx tie order differs on {got['ranx_tie_order_differs']}, expected "
                  f"{want['ranx_tie_order_differs']}", file=sys.stderr)
        if failures > before:
            failed_cases.add(name)
    total = len(expected["cases"])
    print(f"checked {total} fixture cases against {versions()}: {failures} mismatching values")
    print(f"eval_reference: {total - len(failed_cases)} passed, {len(failed_cases)} failed")
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--qrels")
    ap.add_argument("--run")
    ap.add_argument("--k", type=int, action="append")
    ap.add_argument("--generate", metavar="DIR")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--check", metavar="DIR")
    args = ap.parse_args()
    if args.generate:
        generate(args.generate, args.seed)
        return 0
    if args.check:
        return check(args.check)
    if not (args.qrels and args.run):
        ap.error("--qrels and --run are required (or --generate DIR / --check DIR)")
    result = evaluate_files(args.qrels, args.run, args.k or [10])
    result["versions"] = versions()
    print(dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
