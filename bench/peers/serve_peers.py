"""The search service under load: ``vitrine serve`` next to the seed's own architecture.

The question this answers: on this machine, over the same 100k-product catalog and the same
checkpoint, how many text searches per second does each service answer, and how long does one
take, when 1, 4 or 16 clients send queries back to back?

Method
------
* **Catalog.** One data directory made by ``vitrine-bench catalog`` (synthetic products whose
  vectors are text-tower embeddings of generated descriptions plus noise; see that command's
  help). Vitrine serves it as is; the peer gets the same vectors and records through
  ``vitrine-bench export`` (``vectors.npy`` + ``items.jsonl``) loaded into Milvus Lite.
* **Queries.** ``--queries`` distinct text queries (default 5,000) made from colours × patterns ×
  materials × garments (+ an occasional occasion or audience), shuffled with a fixed seed, sent in
  turn; each client (one wrk thread and connection) starts at its own offset in the list, so
  concurrent clients send different queries. Neither service has a result cache: every request
  runs the text tower and the index.
* **Load.** ``wrk`` (closed loop: each client sends its next request when the previous answer has
  arrived) with ``load.lua``, for ``--seconds`` at each client count, after a warm-up of
  ``--warmup`` seconds at 4 clients. Requests/s = answered requests ÷ duration; latency
  percentiles are wrk's (send of the request to the last byte of the answer). Non-2xx answers and
  timeouts are counted and reported; a run with any is flagged.
* **Image search (Vitrine).** 224×224 JPEGs (crops of the parity photos, made with Pillow) uploaded
  as ``multipart/form-data`` to ``POST /api/v1/search/image``, at ``--image-clients``.
* **Vitrine.** ``vitrine serve --data DIR`` on loopback, one process per configuration: precision
  fp32 and bf16, each with query batching (the default, ``limits.textBatchSize`` 16) and without
  (``limits.textBatchSize`` 1: each query encoded alone, as before batching).
  JSON request logs go to a file. The mean batch size per run comes from ``/metrics``.
* **Peer (the seed's architecture).** FastAPI with a synchronous ``GET /search?q=&k=`` route
  (run in FastAPI's thread pool, the idiom for blocking work) under uvicorn (one worker, loopback,
  access log off): transformers ``CLIPModel`` on the same checkpoint, ``torch.set_num_threads(2)``,
  ``inference_mode``, the checkpoint's tokenizer, ``get_text_features``, L2 normalization; then a
  Milvus Lite search (``pymilvus`` ``MilvusClient`` over a local file; COSINE; the index type Milvus
  Lite builds is reported) returning name, category, market and image key as output fields, grouped
  by product, in Vitrine's response shape.
* **Fairness.** Both services run in the same invocation, one after the other, never at once; the
  same queries, client counts, durations and catalog. Each row shows the CPU that processes other
  than the server and wrk took during its run (``/proc/stat`` busy time minus the server's process
  tree and wrk), in % of one core: above 10% the row was disturbed.

Subcommands::

    serve_peers.py run --vitrine BIN --data DIR --export DIR --model DIR [...]   (see serve.sh)
    serve_peers.py peer --export DIR --model DIR --milvus FILE --port P           (the peer server)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = HERE / ".cache" / "serve"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# MARK: Queries and uploads

COLOURS = ["black", "white", "navy", "blue", "red", "burgundy", "pink", "green", "olive", "beige",
           "cream", "brown", "camel", "grey", "yellow", "mustard", "orange", "purple", "lilac",
           "teal", "silver", "gold", "khaki", "coral"]
PATTERNS = ["", "", "striped", "floral", "checked", "plaid", "polka dot", "leopard print",
            "paisley", "camo", "tie-dye", "houndstooth", "embroidered", "graphic"]
MATERIALS = ["", "", "cotton", "linen", "wool", "cashmere", "silk", "satin", "denim", "leather",
             "suede", "corduroy", "velvet", "knit", "chiffon", "fleece"]
GARMENTS = ["dress", "maxi dress", "shirt", "blouse", "t-shirt", "tank top", "sweater", "cardigan",
            "hoodie", "jacket", "bomber jacket", "coat", "trench coat", "parka", "blazer", "jeans",
            "trousers", "chinos", "shorts", "skirt", "mini skirt", "jumpsuit", "sneakers", "boots",
            "ankle boots", "sandals", "loafers", "heels", "handbag", "backpack", "tote bag", "scarf"]
SUFFIXES = [""] * 6 + ["for summer", "for winter", "for women", "for men", "for the office",
                       "for a wedding", "oversized", "slim fit"]


def make_queries(count: int, seed: int = 11) -> list[str]:
    """``count`` distinct queries, in a fixed shuffled order."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        words = [rng.choice(COLOURS), rng.choice(PATTERNS), rng.choice(MATERIALS), rng.choice(GARMENTS),
                 rng.choice(SUFFIXES)]
        q = " ".join(w for w in words if w)
        if q not in seen:
            seen.add(q)
            out.append(q)
    return out


BOUNDARY = "vitrine-load-7d1f0c"


def make_uploads(count: int) -> list[Path]:
    """224×224 JPEG crops of the parity photos, each wrapped as a multipart body."""
    from PIL import Image

    sources = sorted((ROOT / "Tests" / "Fixtures" / "images").glob("*.jpg"))
    sources = [p for p in sources if Image.open(p).size[0] >= 64 and Image.open(p).size[1] >= 64] or sources
    paths = []
    for i in range(count):
        src = Image.open(sources[i % len(sources)]).convert("RGB")
        side = min(src.size)
        # A different crop of the same photo for each pass over the list.
        shift = (i // len(sources)) * 7 % max(1, (max(src.size) - side + 1))
        box = (shift, 0, shift + side, side) if src.size[0] > src.size[1] else (0, shift, side, shift + side)
        img = src.crop(box).resize((224, 224), Image.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q{i}.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + buf.getvalue() + f"\r\n--{BOUNDARY}--\r\n".encode()
        path = CACHE / f"upload-{i}.multipart"
        path.write_bytes(body)
        paths.append(path)
    return paths


# MARK: Machine and CPU accounting

def machine() -> dict:
    info = {"cpus": os.cpu_count(), "kernel": platform.release()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU family", "Model"):
                info[key.strip()] = value.strip()
    except OSError:
        pass
    return info


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree = {pid}
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                changed = True
    return sum(times.get(p, 0.0) for p in tree)


def machine_busy() -> float:
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields[i] for i in (0, 1, 2, 5, 6)) / tick  # user nice system irq softirq


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# MARK: Servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    """A server process started for one configuration and stopped (SIGTERM, then SIGKILL) after."""

    def __init__(self, name: str, command: list[str], port: int, ready_path: str, log_path: Path, env=None):
        self.name, self.port, self.ready_path = name, port, ready_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log.name}")
            try:
                status, _ = get(self.base + self.ready_path, timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} was not ready after {timeout:.0f} s; see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def wrk(url: str, clients: int, seconds: float, lua_args: list[str]) -> dict:
    command = ["wrk", "-t", str(clients), "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
               "-s", str(HERE / "load.lua"), url, "--", *lua_args]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(l for l in reversed(out.splitlines()) if l.startswith("{"))
    return json.loads(line)


def measure(server: Server, clients: int, seconds: float, url: str, lua_args: list[str]) -> dict:
    """One wrk run, with the CPU the server, wrk and everything else used meanwhile."""
    busy0, server0 = machine_busy(), process_tree_cpu(server.process.pid)
    wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    result = wrk(url, clients, seconds, lua_args)
    wall = time.monotonic() - t0
    wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, server1 = machine_busy(), process_tree_cpu(server.process.pid)
    wrk_cpu = (wrk1.ru_utime + wrk1.ru_stime) - (wrk0.ru_utime + wrk0.ru_stime)
    server_cpu = server1 - server0
    others = max(0.0, (busy1 - busy0) - server_cpu - wrk_cpu)
    lat = result["latency_us"]
    errors = sum(result["errors"].values())
    return {
        "clients": clients, "requests": result["requests"], "rps": result["requests"] / result["seconds"],
        "p50_ms": lat["p50"] / 1000, "p90_ms": lat["p90"] / 1000, "p99_ms": lat["p99"] / 1000,
        "max_ms": lat["max"] / 1000, "errors": errors, "error_detail": result["errors"],
        "server_cpu_pct": 100 * server_cpu / wall, "wrk_cpu_pct": 100 * wrk_cpu / wall,
        "others_cpu_pct": 100 * others / wall,
    }


def batch_histogram(server: Server) -> tuple[float, float]:
    """(sum, count) of ``vitrine_text_batch_size`` from /metrics (0, 0 when absent)."""
    status, body = get(server.base + "/metrics")
    total = count = 0.0
    for line in body.decode().splitlines():
        if line.startswith("vitrine_text_batch_size_sum"):
            total = float(line.split()[-1])
        elif line.startswith("vitrine_text_batch_size_count"):
            count = float(line.split()[-1])
    return total, count


# MARK: run

def cmd_run(args) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    load = load_average()
    log(f"load average at start: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    if load[0] > 0.5:
        log("warning: the 1-minute load is above 0.5: other processes are using the cores; numbers will be low")

    queries = make_queries(args.queries)
    queries_file = CACHE / "queries.txt"
    queries_file.write_text("".join(urllib.parse.quote_plus(q) + "\n" for q in queries))
    uploads = [str(p) for p in make_uploads(16)]
    clients = [int(c) for c in args.clients.split(",")]
    image_clients = [int(c) for c in args.image_clients.split(",") if c]
    results = {"started": started.isoformat(timespec="seconds"), "load_average": load, "machine": machine(),
               "command": os.environ.get("SERVE_PEERS_COMMAND", ""), "queries": len(queries),
               "seconds": args.seconds, "catalog": args.data, "model": args.model, "vitrine": [], "peer": None}
    configs = [c for c in args.configs.split(",") if c]

    for config in configs:
        precision, _, batching = config.partition("-")
        batch_size = 1 if batching == "nobatch" else 16
        config_file = CACHE / f"vitrine-{config}.json"
        config_file.write_text(json.dumps({"limits": {"textBatchSize": batch_size}}))
        port = free_port()
        log(f"vitrine {config}: starting on port {port}")
        server = Server(f"vitrine serve ({config})",
                        [args.vitrine, "serve", "--data", args.data, "--port", str(port), "--precision", precision,
                         "--config", str(config_file)],
                        port, "/readyz", CACHE / f"vitrine-{config}.log")
        entry = {"config": config, "precision": precision, "batch_size": batch_size, "text": [], "image": []}
        try:
            server.wait_ready(600)
            url = server.base
            text_args = ["get", "/api/v1/search?k=10&q=", str(queries_file)]
            wrk(url, 4, args.warmup, text_args)
            for c in clients:
                s0 = batch_histogram(server)
                row = measure(server, c, args.seconds, url, text_args)
                s1 = batch_histogram(server)
                passes = s1[1] - s0[1]
                row["mean_batch"] = (s1[0] - s0[0]) / passes if passes else None
                entry["text"].append(row)
                log(f"  text  {c:2d} clients: {row['rps']:7.1f} req/s  p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms"
                    f"  batch {row['mean_batch'] or 0:4.1f}  errors {row['errors']}  others' CPU {row['others_cpu_pct']:.0f}%")
            if batching != "nobatch":
                image_args = ["post", "/api/v1/search/image?k=10", BOUNDARY, *uploads]
                for c in image_clients:
                    row = measure(server, c, args.image_seconds, url, image_args)
                    entry["image"].append(row)
                    log(f"  image {c:2d} clients: {row['rps']:7.1f} req/s  p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms"
                        f"  errors {row['errors']}  others' CPU {row['others_cpu_pct']:.0f}%")
        finally:
            server.stop()
        results["vitrine"].append(entry)

    if not args.skip_peer:
        port = free_port()
        log(f"peer (FastAPI + transformers + Milvus Lite): starting on port {port}")
        server = Server("peer", [sys.executable, str(Path(__file__).resolve()), "peer", "--export", args.export,
                                 "--model", args.model, "--milvus", str(Path(args.export) / "milvus" / "catalog.db"),
                                 "--port", str(port), "--threads", str(args.threads)],
                        port, "/health", CACHE / "peer.log")
        entry = {"text": []}
        try:
            server.wait_ready(1800)
            _, body = get(server.base + "/health")
            entry["info"] = json.loads(body)
            text_args = ["get", "/search?k=10&q=", str(queries_file)]
            wrk(server.base, 4, args.warmup, text_args)
            for c in clients:
                row = measure(server, c, args.seconds, server.base, text_args)
                entry["text"].append(row)
                log(f"  text  {c:2d} clients: {row['rps']:7.1f} req/s  p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms"
                    f"  errors {row['errors']}  others' CPU {row['others_cpu_pct']:.0f}%")
        finally:
            server.stop()
        results["peer"] = entry

    results["load_average_end"] = load_average()
    out = CACHE / "serve-results.json"
    out.write_text(json.dumps(results, indent=2))
    print(report(results))
    log(f"results: {out}")


def report(results: dict) -> str:
    lines = []
    peer = {r["clients"]: r for r in (results.get("peer") or {}).get("text", [])}
    lines.append("| service | precision | batching | clients | req/s | p50 ms | p99 ms | mean batch | errors | server CPU | others' CPU | req/s ÷ peer |")
    lines.append("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")

    def row(name, precision, batching, r, ratio=True):
        p = peer.get(r["clients"])
        ratio_text = f"**{r['rps'] / p['rps']:.1f}×**" if ratio and p and p["rps"] > 0 else "–"
        batch = f"{r['mean_batch']:.1f}" if r.get("mean_batch") else "–"
        lines.append(f"| {name} | {precision} | {batching} | {r['clients']} | {r['rps']:.1f} | {r['p50_ms']:.1f} | "
                     f"{r['p99_ms']:.1f} | {batch} | {r['errors']} | {r['server_cpu_pct']:.0f}% | {r['others_cpu_pct']:.0f}% | {ratio_text} |")

    for entry in results["vitrine"]:
        for r in entry["text"]:
            row("Vitrine text", entry["precision"], "≤ 16" if entry["batch_size"] > 1 else "none", r)
    for r in (results.get("peer") or {}).get("text", []):
        row("peer text", "fp32", "none", r, ratio=False)
    images = [(e, r) for e in results["vitrine"] for r in e["image"]]
    if images:
        lines.append("")
        lines.append("| image search (224×224 JPEG, multipart) | precision | clients | req/s | p50 ms | p99 ms | errors | others' CPU |")
        lines.append("|---|---|--:|--:|--:|--:|--:|--:|")
        for e, r in images:
            lines.append(f"| Vitrine | {e['precision']} | {r['clients']} | {r['rps']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                         f"{r['errors']} | {r['others_cpu_pct']:.0f}% |")
    info = (results.get("peer") or {}).get("info")
    la, lb = results["load_average"], results.get("load_average_end", [0, 0, 0])
    lines.append("")
    lines.append(f"- {results['queries']} distinct queries, {results['seconds']} s per row, catalog {results['catalog']}")
    lines.append(f"- load average at start {la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f}, at end {lb[0]:.2f} / {lb[1]:.2f} / {lb[2]:.2f}")
    if info:
        lines.append(f"- peer: {info.get('versions')}, Milvus Lite index {info.get('index')}, {info.get('entities')} entities")
    return "\n".join(lines)


# MARK: peer

def milvus_load(client, collection: str, export: Path) -> None:
    """Creates the collection from ``vitrine-bench export``'s files: the same vectors and records."""
    import numpy as np
    from pymilvus import DataType

    vectors = np.load(export / "vectors.npy")
    items = [json.loads(l) for l in (export / "items.jsonl").read_text().splitlines() if l]
    assert len(items) == len(vectors), "vectors.npy and items.jsonl disagree"
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=int(vectors.shape[1]))
    for name in ("product", "name", "category", "market", "key"):
        schema.add_field(name, DataType.VARCHAR, max_length=1024)
    index = client.prepare_index_params()
    index.add_index(field_name="embedding", index_type="HNSW", metric_type="COSINE",
                    params={"M": 16, "efConstruction": 200})
    client.create_collection(collection, schema=schema, index_params=index)
    for start in range(0, len(items), 5000):
        chunk = items[start:start + 5000]
        client.insert(collection, [
            {"row": start + i, "embedding": vectors[start + i].tolist(), "product": it["product"], "name": it["name"],
             "category": it.get("category") or "", "market": it.get("market") or "", "key": it["key"]}
            for i, it in enumerate(chunk)])
        log(f"milvus: {start + len(chunk)} / {len(items)}")
    client.flush(collection)


def cmd_peer(args) -> None:
    import numpy as np
    import torch
    import transformers
    import uvicorn
    from fastapi import FastAPI, HTTPException, Query
    from pymilvus import MilvusClient
    import pymilvus

    torch.set_num_threads(args.threads)
    model = transformers.CLIPModel.from_pretrained(args.model).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.model)
    collection = "catalog"
    db = Path(args.milvus)
    db.parent.mkdir(parents=True, exist_ok=True)
    client = MilvusClient(str(db))
    if not client.has_collection(collection):
        milvus_load(client, collection, Path(args.export))
    client.load_collection(collection)
    entities = client.get_collection_stats(collection).get("row_count")
    try:
        index = client.describe_index(collection, "embedding")
    except Exception as error:  # noqa: BLE001 - what Lite reports is informational only
        index = str(error)
    try:
        import importlib.metadata as md
        lite = md.version("milvus-lite")
    except Exception:  # noqa: BLE001
        lite = "?"
    info = {"versions": f"torch {torch.__version__}, transformers {transformers.__version__}, "
                        f"pymilvus {pymilvus.__version__}, milvus-lite {lite}",
            "index": index, "entities": entities}

    app = FastAPI()

    @app.get("/health")
    def health():
        return info

    @app.get("/search")
    def search(q: str = Query(..., min_length=1, max_length=1000), k: int = Query(10, ge=1, le=100)):
        if not q.strip():
            raise HTTPException(400, "the query is empty")
        with torch.inference_mode():
            tokens = tokenizer([q.strip()], return_tensors="pt", truncation=True, max_length=77)
            out = model.get_text_features(**tokens)
            features = out.pooler_output if hasattr(out, "pooler_output") else out
            vector = torch.nn.functional.normalize(features, dim=-1)[0].numpy().astype(np.float32)
        truncated = len(tokenizer(q.strip())["input_ids"]) > 77
        hits = client.search(collection, data=[vector.tolist()], limit=3 * k, search_params={"metric_type": "COSINE", "params": {"ef": 64}},
                             output_fields=["product", "name", "category", "market", "key"])[0]
        best: dict[str, dict] = {}
        for hit in hits:
            e = hit["entity"]
            if e["product"] not in best or hit["distance"] > best[e["product"]]["score"]:
                best[e["product"]] = {"id": e["product"], "score": float(hit["distance"]), "name": e["name"],
                                      "category": e["category"] or None, "market": e["market"] or None,
                                      "image": "/images/" + e["key"]}
        results = sorted(best.values(), key=lambda r: (-r["score"], r["id"]))[:k]
        return {"query": q, "truncated": truncated, "offset": 0, "results": results}

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--vitrine", required=True)
    run.add_argument("--data", required=True)
    run.add_argument("--export", required=True)
    run.add_argument("--model", required=True)
    run.add_argument("--clients", default="1,4,16")
    run.add_argument("--image-clients", default="1,4")
    run.add_argument("--seconds", type=float, default=20)
    run.add_argument("--image-seconds", type=float, default=15)
    run.add_argument("--warmup", type=float, default=3)
    run.add_argument("--queries", type=int, default=5000)
    run.add_argument("--configs", default="int8,int8-nobatch,fp32,fp32-nobatch,bf16,bf16-nobatch")
    run.add_argument("--threads", type=int, default=2)
    run.add_argument("--skip-peer", action="store_true")
    peer = sub.add_parser("peer")
    peer.add_argument("--export", required=True)
    peer.add_argument("--model", required=True)
    peer.add_argument("--milvus", required=True)
    peer.add_argument("--port", type=int, required=True)
    peer.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    {"run": cmd_run, "peer": cmd_peer}[args.command](args)


if __name__ == "__main__":
    main()
