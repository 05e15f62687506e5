#!/usr/bin/env python3
"""Vitrine's quantized index beside FAISS IVF-SQ8 on the same data, in one run.

`vitrine-bench index --quantized --save-data DIR --json` streams the data (the normalized
Gaussian mixture, deterministic) to DIR/vectors.npy, writes DIR/queries.npy and the exact top-k
(DIR/truth.npy), builds and measures Vitrine's index. This script then builds FAISS's
IndexIVFScalarQuantizer (8-bit codes, inner product on unit vectors) with the same number of
lists, trained on the same evenly spaced sample, adds the vectors in chunks read from the file,
and searches with the same probes, re-ranking the same number of candidates exactly from rows
read from the file (pread, as Vitrine reads them), each query one call on a pool of threads as
Vitrine runs them. One table:
recall@10, queries/s, p50/p99 latency, build seconds and resident-memory growth, with Vitrine's
ratios.

Run it through bench/peers/quantized.sh, which makes the virtual environment and builds Vitrine.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time

import numpy as np

from index_peers import cpu_model, resident_bytes


def read_rows(descriptor, start, count, dim, offset):
    """Rows start..start+count of the open .npy, read with pread (not mapped: the process must not
    count the file's pages as its own memory)."""
    size = count * dim * 4
    data = os.pread(descriptor, size, offset + start * dim * 4)
    if len(data) != size:
        raise OSError(f"vectors.npy: rows {start}..{start + count} cut short")
    return np.frombuffer(data, dtype=np.float32).reshape(count, dim)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vitrine-bench", required=True)
    parser.add_argument("--data", required=True, help="directory for vectors.npy, queries.npy, truth.npy (kept)")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--lists", type=int, default=1024)
    parser.add_argument("--probes", default="8,16,32")
    parser.add_argument("--rerank", type=int, default=100)
    parser.add_argument("--threads", default="1,4")
    parser.add_argument("--build-threads", type=int, default=os.cpu_count())
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--skip-vitrine", action="store_true", help="only FAISS, on data an earlier run left in --data")
    parser.add_argument("--json-out")
    args = parser.parse_args()
    probes = [int(p) for p in args.probes.split(",")]
    threads = [int(t) for t in args.threads.split(",")]

    print(f"cpu: {cpu_model()}, {os.cpu_count()} cores; load {open('/proc/loadavg').read().split()[:3]}", file=sys.stderr)
    vitrine = []
    if not args.skip_vitrine:
        command = [args.vitrine_bench, "index", "--quantized", "--n", str(args.n), "--dim", str(args.dim),
                   "--queries", str(args.queries), "--lists", str(args.lists), "--probes", args.probes,
                   "--rerank", str(args.rerank), "--threads", args.threads, "--build-threads", str(args.build_threads),
                   "--k", str(args.k), "--save-data", args.data, "--json"]
        print("$ " + " ".join(command), file=sys.stderr)
        vitrine = json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout)

    import faiss  # after Vitrine's run: its threads must not share the cores
    path = os.path.join(args.data, "vectors.npy")
    header = np.load(path, mmap_mode="r")
    n, dim = header.shape
    offset = header.offset
    del header
    descriptor = os.open(path, os.O_RDONLY)
    queries = np.load(os.path.join(args.data, "queries.npy"))
    truth = np.load(os.path.join(args.data, "truth.npy"))
    k = truth.shape[1]

    faiss.omp_set_num_threads(args.build_threads)
    before = resident_bytes()
    start = time.time()
    sample_count = max(args.lists, min(n, args.lists * 64))
    sample = np.stack([read_rows(descriptor, (i * n) // sample_count, 1, dim, offset)[0] for i in range(sample_count)])
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, args.lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.train(sample)
    del sample
    for first in range(0, n, 65536):
        index.add(read_rows(descriptor, first, min(65536, n - first), dim, offset))
    build_seconds = time.time() - start
    growth = resident_bytes() - before
    print(f"FAISS IVF{args.lists},SQ8: built in {build_seconds:.1f} s, RSS +{growth >> 20} MiB", file=sys.stderr)

    faiss.omp_set_num_threads(1)  # one query per call, concurrency from the pool as in Vitrine's run
    rows = []
    for p in probes:
        index.nprobe = p
        for t in threads:
            def one(q):
                begin = time.perf_counter()
                _, ids = index.search(q[None, :], args.rerank)
                ids = np.sort(ids[0][ids[0] >= 0])
                rows = np.stack([read_rows(descriptor, int(i), 1, dim, offset)[0] for i in ids])
                found = ids[np.argsort(-(rows @ q))[:k]]
                return found, time.perf_counter() - begin
            for q in queries[:50]:
                one(q)
            began = time.time()
            with concurrent.futures.ThreadPoolExecutor(max_workers=t) as pool:
                results = list(pool.map(one, queries))
            seconds = time.time() - began
            hits = sum(len(set(f.tolist()) & set(tr.tolist())) for (f, _), tr in zip(results, truth))
            latencies = [r[1] for r in results]
            row = {"library": "faiss", "algorithm": f"IVF{args.lists},SQ8", "n": n, "dim": dim, "lists": args.lists, "probes": p,
                   "rerank": args.rerank, "threads": t, "recall": hits / truth.size, "queriesPerSecond": len(queries) / seconds,
                   "p50Milliseconds": percentile(latencies, 0.5) * 1000, "p99Milliseconds": percentile(latencies, 0.99) * 1000,
                   "buildSeconds": build_seconds, "residentGrowthBytes": growth, "residentBytes": resident_bytes()}
            rows.append(row)
            print(f"FAISS probes {p}, {t} threads: recall {row['recall']:.4f}, {row['queriesPerSecond']:.0f} q/s, "
                  f"p50 {row['p50Milliseconds']:.2f} ms, p99 {row['p99Milliseconds']:.2f} ms, RSS {row['residentBytes'] >> 20} MiB", file=sys.stderr)

    print(f"\n{n} x {dim}, {args.lists} lists, re-rank {args.rerank}, k {k}")
    if vitrine:
        v = vitrine[0]
        print(f"build: Vitrine {v['buildSeconds']:.1f} s, FAISS {build_seconds:.1f} s ({v['buildSeconds'] / build_seconds:.2f}x); "
              f"RSS growth: Vitrine {v['residentGrowthBytes'] >> 20} MiB, FAISS {growth >> 20} MiB")
    print("| probes | threads | Vitrine recall@10 | Vitrine q/s | Vitrine p50 ms | Vitrine p99 ms | FAISS recall@10 | FAISS q/s | FAISS p50 ms | FAISS p99 ms | Vitrine ÷ FAISS q/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f in rows:
        v = next((r for r in vitrine if r["probes"] == f["probes"] and r["threads"] == f["threads"]), None)
        left = (f"{v['recall']:.4f} | {v['queriesPerSecond']:.0f} | {v['p50Milliseconds']:.2f} | {v['p99Milliseconds']:.2f}"
                if v else "— | — | — | —")
        ratio = f"{v['queriesPerSecond'] / f['queriesPerSecond']:.2f}" if v else "—"
        print(f"| {f['probes']} | {f['threads']} | {left} | {f['recall']:.4f} | {f['queriesPerSecond']:.0f} | "
              f"{f['p50Milliseconds']:.2f} | {f['p99Milliseconds']:.2f} | {ratio} |")
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump({"vitrine": vitrine, "faiss": rows, "cpu": cpu_model()}, out, indent=1)


if __name__ == "__main__":
    main()
