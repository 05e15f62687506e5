#!/usr/bin/env python3
"""Vitrine's HNSW index beside hnswlib and FAISS IndexHNSWFlat on the same data, in one run.

`vitrine-bench index --save-data DIR --json` generates the data (a normalized Gaussian mixture,
deterministic), benchmarks Vitrine and writes vectors.npy / queries.npy; this script then builds
hnswlib and FAISS HNSW indexes with the same M, efConstruction and ef values on those files and
prints one table: recall@10 against exact search, queries/s on 1 and 2 threads, build seconds,
memory (resident-set growth while building), and Vitrine's ratios to the peers.

Run it through bench/peers/index.sh, which makes the virtual environment and builds Vitrine.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def exact_top_k(data, queries, k):
    """Exact top-k by inner product (the vectors are normalized: cosine), in blocks."""
    truth = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 100):
        scores = queries[start:start + 100] @ data.T
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        truth[start:start + 100] = np.take_along_axis(part, order, axis=1)
    return truth


def recall(found, truth):
    k = truth.shape[1]
    hits = sum(len(set(f[:k]) & set(t)) for f, t in zip(found, truth))
    return hits / truth.size


def timed_queries(search, queries, repeat_warmup=50):
    search(queries[:repeat_warmup])
    start = time.perf_counter()
    labels = search(queries)
    seconds = time.perf_counter() - start
    return labels, len(queries) / seconds


def bench_hnswlib(data, queries, truth, args):
    import hnswlib
    before = resident_bytes()
    index = hnswlib.Index(space="ip", dim=data.shape[1])
    start = time.perf_counter()
    index.init_index(max_elements=len(data), ef_construction=args.ef_construction, M=args.m, random_seed=100)
    index.set_num_threads(args.build_threads)
    index.add_items(data, np.arange(len(data)))
    build = time.perf_counter() - start
    memory = resident_bytes() - before
    rows = []
    for ef in args.ef:
        index.set_ef(ef)
        for threads in args.threads:
            index.set_num_threads(threads)
            labels, qps = timed_queries(lambda q: index.knn_query(q, k=args.k)[0], queries)
            rows.append(dict(library="hnswlib", ef_search=ef, threads=threads, recall_at_10=recall(labels, truth),
                             queries_per_second=qps, build_seconds=build, memory_bytes=memory))
    del index
    return rows


def bench_faiss(data, queries, truth, args):
    import faiss
    before = resident_bytes()
    start = time.perf_counter()
    faiss.omp_set_num_threads(args.build_threads)
    index = faiss.IndexHNSWFlat(data.shape[1], args.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = args.ef_construction
    index.add(data)
    build = time.perf_counter() - start
    memory = resident_bytes() - before
    rows = []
    for ef in args.ef:
        index.hnsw.efSearch = ef
        for threads in args.threads:
            faiss.omp_set_num_threads(threads)
            labels, qps = timed_queries(lambda q: index.search(q, args.k)[1], queries)
            rows.append(dict(library="faiss", ef_search=ef, threads=threads, recall_at_10=recall(labels, truth),
                             queries_per_second=qps, build_seconds=build, memory_bytes=memory))
    del index
    return rows


def best_qps_at(rows, library, target, threads=1):
    """Highest single-thread queries/s among configurations reaching `target` recall."""
    qps = [r["queries_per_second"] for r in rows
           if r["library"] == library and r.get("threads") == threads and r.get("filter") is None
           and r.get("ef_search") is not None and r["recall_at_10"] >= target]
    return max(qps) if qps else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vitrine-bench", default=".build/release/vitrine-bench")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--ef", default="16,24,32,48,64,96,128")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--build-threads", type=int, default=2)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--data-dir", default="bench/peers/data")
    parser.add_argument("--no-filters", action="store_true", help="skip Vitrine's filtered runs")
    parser.add_argument("--peers", default="hnswlib,faiss", help="peers to run, comma-separated (hnswlib, faiss)")
    parser.add_argument("--vitrine-args", default="", help="more options for vitrine-bench index, written with = (--vitrine-args='--persist DIR')")
    parser.add_argument("--json-out", help="also write every row as JSON here")
    parser.add_argument("--peer", choices=["hnswlib", "faiss"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.ef = [int(x) for x in args.ef.split(",")]
    args.threads = [int(x) for x in args.threads.split(",")]
    args.peers = [p for p in args.peers.split(",") if p]
    if not args.peers or any(p not in ("hnswlib", "faiss") for p in args.peers):
        parser.error(f"--peers must name hnswlib and/or faiss, not {','.join(args.peers)!r}")

    if args.peer:
        # One library per process, so its resident-set growth is its own (freed memory of an
        # earlier library would otherwise be reused and hide the next one's).
        data = np.load(os.path.join(args.data_dir, "vectors.npy"))
        queries = np.load(os.path.join(args.data_dir, "queries.npy"))
        truth = np.load(os.path.join(args.data_dir, "truth.npy"))
        run = bench_hnswlib if args.peer == "hnswlib" else bench_faiss
        json.dump(run(data, queries, truth, args), sys.stdout)
        return

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = load_average()
    if float(load_before.split()[0]) > 0.5:
        print(f"warning: load average {load_before}: other work on the cores will lower every number",
              file=sys.stderr, flush=True)
    command = [args.vitrine_bench, "index", "--n", str(args.n), "--dim", str(args.dim),
               "--queries", str(args.queries), "--m", str(args.m), "--ef-construction", str(args.ef_construction),
               "--ef", ",".join(map(str, args.ef)), "--threads", ",".join(map(str, args.threads)),
               "--build-threads", str(args.build_threads), "--k", str(args.k),
               "--save-data", args.data_dir, "--json"]
    if not args.no_filters:
        command.append("--filters")
    command += args.vitrine_args.split()
    print("running", " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE)
    rows = json.loads(result.stdout)

    data = np.load(os.path.join(args.data_dir, "vectors.npy"))
    queries = np.load(os.path.join(args.data_dir, "queries.npy"))
    np.save(os.path.join(args.data_dir, "truth.npy"), exact_top_k(data, queries, args.k))
    query_count = len(queries)
    del data, queries
    for peer in args.peers:
        print("running", peer, file=sys.stderr, flush=True)
        out = subprocess.run([sys.executable, __file__, "--peer", peer] + sys.argv[1:], check=True, stdout=subprocess.PIPE)
        rows += json.loads(out.stdout)
    load_after = load_average()
    if args.json_out:  # before the tables, so a report that fails to print loses no measurement
        with open(args.json_out, "w") as f:
            json.dump(rows, f, indent=1)

    print(f"## {args.n} × {args.dim}, M {args.m}, efConstruction {args.ef_construction}, "
          f"build threads {args.build_threads}, k {args.k}, {query_count} queries")
    print(f"{started}; {cpu_model()}, {os.cpu_count()} cores; load average before {load_before}, after {load_after}")
    print()
    libraries = ["vitrine"] + args.peers
    build = {r["library"]: r for r in rows if r.get("build_seconds") is not None and r.get("filter") is None}
    print("| library | build s | memory MiB |")
    print("|---|---:|---:|")
    for lib in libraries:
        r = build[lib]
        print(f"| {lib} | {r['build_seconds']:.1f} | {r['memory_bytes'] / 2**20:.0f} |")
    print()
    header = "| ef | " + " | ".join(f"{lib} recall | {lib} q/s 1t | {lib} q/s 2t" for lib in libraries)
    print(header + " | vitrine/best q/s 1t |")
    print("|---:|" + "---:|" * (3 * len(libraries) + 1))
    for ef in args.ef:
        cells = []
        qps1 = {}
        for lib in libraries:
            by = {r["threads"]: r for r in rows if r["library"] == lib and r.get("ef_search") == ef and r.get("filter") is None
                  and r.get("algorithm") is None}
            one, two = by.get(1), by.get(2)
            qps1[lib] = one["queries_per_second"] if one else float("nan")
            cells.append(f"{(one or two)['recall_at_10']:.4f} | {qps1[lib]:.0f} | "
                         f"{two['queries_per_second'] if two else float('nan'):.0f}")
        ratio = qps1["vitrine"] / max(qps1[p] for p in args.peers)
        print(f"| {ef} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    print()
    print("| target (1 thread) | " + " | ".join(libraries) + " | vitrine / faster peer |")
    print("|---|" + "---:|" * (len(libraries) + 1))
    for target in (0.95, 0.99):
        best = {lib: best_qps_at(rows, lib, target) for lib in libraries}
        peers = [v for k, v in best.items() if k != "vitrine" and v]
        ratio = f"{best['vitrine'] / max(peers):.2f}" if best["vitrine"] and peers else "n/a"
        cells = " | ".join(f"{best[lib]:.0f}" if best[lib] else "—" for lib in libraries)
        print(f"| q/s at recall@10 ≥ {target} | {cells} | {ratio} |")
    faster_build = min(build[p]["build_seconds"] for p in args.peers)
    print("| build time | " + " | ".join(f"{build[lib]['build_seconds']:.1f} s" for lib in libraries)
          + f" | {build['vitrine']['build_seconds'] / faster_build:.2f} (target ≤ 1.2) |")
    hnswlib_memory = f"{build['vitrine']['memory_bytes'] / build['hnswlib']['memory_bytes']:.2f} of hnswlib (target ≤ 1.15)" \
        if "hnswlib" in build else "—"
    print("| memory | " + " | ".join(f"{build[lib]['memory_bytes'] / 2**20:.0f} MiB" for lib in libraries) + f" | {hnswlib_memory} |")
    filtered = [r for r in rows if r.get("filter")]
    if filtered:
        unfiltered = {r["ef_search"]: r["queries_per_second"] for r in rows
                      if r["library"] == "vitrine" and r.get("filter") is None and r.get("threads") == 1 and r.get("ef_search")}
        print()
        print("| Vitrine filter | allowed | route | recall@10 | q/s 1t | vs unfiltered (same ef) | violations |")
        print("|---|---:|---|---:|---:|---:|---:|")
        for r in filtered:
            base = unfiltered.get(r["ef_search"])
            ratio = f"{r['queries_per_second'] / base:.2f}" if base else "n/a"
            print(f"| {r['filter']} | {r['allowed_fraction']:.3f} | {r['route']} | {r['recall_at_10']:.4f} | "
                  f"{r['queries_per_second']:.0f} | {ratio} | {r['violations']} |")


if __name__ == "__main__":
    main()
