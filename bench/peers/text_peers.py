"""Text-model throughput of sentence-transformers, the peer of Vitrine's BERT models (issue 18).

The question this answers: on this CPU, at the same number of threads, how many (query, product
text) pairs per second does sentence-transformers' ``CrossEncoder`` score, and how many sentences
per second does its ``SentenceTransformer`` embed, on the inputs that ``vitrine-bench rerank`` and
``vitrine-bench minilm`` read? ``bench/peers/text.sh`` runs these next to Vitrine and prints the
ratios; this file holds the Python side only.

Subcommands::

    text_peers.py make-pairs --sentences bench/sentences.txt --out PAIRS.jsonl [--queries 16] [--per-query 32]
    text_peers.py rerank --model DIR --pairs PAIRS.jsonl [--threads 2] [--batch 32] [--max-length 128] [--seconds 5]
    text_peers.py embed  --model DIR --sentences FILE    [--threads 2] [--batch 32] [--seconds 5]

``rerank`` and ``embed`` print one JSON line on stdout; everything else goes to stderr.

Method
------
* **Threads.** ``torch.set_num_threads(N)`` and one inter-op thread; ``OMP_NUM_THREADS``,
  ``MKL_NUM_THREADS`` and the tokenizers' Rayon pool (``RAYON_NUM_THREADS``) are set to N
  before torch or tokenizers load, unless the caller already set them (``text.sh`` does).
* **Work timed.** One call of ``CrossEncoder.predict`` / ``SentenceTransformer.encode`` over all
  pairs or sentences in batches of ``--batch`` is one pass: tokenization, the model and the
  conversion to NumPy, as an application calling the library pays them. The library sorts its
  inputs by length before batching, which is its own default and is left on.
* **Rate.** One warm-up pass, then passes back to back until ``--seconds`` have elapsed (at least
  one); the rate is items done ÷ elapsed time.
* **Memory.** ``peak_rss_mb`` is the process's ``ru_maxrss`` (interpreter and libraries included).

``make-pairs`` is deterministic (no randomness): the first ``--queries`` lines of at most eight
words are the queries (a fixed list of fashion queries fills in when the file has too few), the
longer lines are the product texts, and query i is paired with ``--per-query`` consecutive
product texts starting at text ``i × step`` (wrapping around), so that queries see different
but overlapping candidate lists, the way the reranker sees the top of a search.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

#: A query has at most this many words; longer lines are product texts.
QUERY_WORDS = 8

#: Used, in this order, when the sentences file has fewer short lines than ``--queries``.
FALLBACK_QUERIES = [
    "red floral summer dress",
    "black leather ankle boots",
    "white sneakers",
    "men's slim fit chinos in navy blue",
    "oversized wool coat with belt",
    "striped cotton t-shirt",
    "silver hoop earrings",
    "denim jacket with fur collar",
    "linen trousers for hot weather",
    "waterproof parka with hood",
    "pleated midi skirt in green",
    "cashmere turtleneck jumper",
    "kids' rain boots",
    "gold chain necklace",
    "running shorts with pockets",
    "beige trench coat",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


# --------------------------------------------------------------------------------------------
# make-pairs
# --------------------------------------------------------------------------------------------

def make_pairs(lines: list[str], queries: int, per_query: int) -> list[dict]:
    """The (query, text) pairs described in the module docstring, queries in file order."""
    short = [line for line in lines if len(line.split()) <= QUERY_WORDS]
    texts = [line for line in lines if len(line.split()) > QUERY_WORDS]
    chosen = short[:queries]
    for query in FALLBACK_QUERIES:
        if len(chosen) >= queries:
            break
        if query not in chosen:
            chosen.append(query)
    if len(chosen) < queries:
        raise SystemExit(f"error: only {len(chosen)} queries available, --queries asks for {queries}")
    if not texts:  # a file of short lines only: the lines that are not queries serve as texts
        texts = [line for line in lines if line not in chosen]
    if not texts:
        raise SystemExit("error: no product texts (lines of more than eight words) in the sentences file")
    # Spread the queries' starting points over the texts; consecutive queries overlap.
    step = max(1, len(texts) // max(1, queries))
    pairs = []
    for i, query in enumerate(chosen):
        for j in range(per_query):
            pairs.append({"query": query, "text": texts[(i * step + j) % len(texts)]})
    return pairs


def step_make_pairs(args) -> None:
    pairs = make_pairs(read_lines(args.sentences), args.queries, args.per_query)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair, ensure_ascii=False) + "\n")
    log(f"make-pairs: {len(pairs)} pairs ({args.queries} queries × {args.per_query} texts) → {out}")


# --------------------------------------------------------------------------------------------
# rerank / embed
# --------------------------------------------------------------------------------------------

def pin_threads(threads: int) -> None:
    """Thread counts for OpenMP, MKL and the tokenizers, set before torch or tokenizers load."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS", "RAYON_RS_NUM_CPUS"):
        os.environ.setdefault(name, str(threads))
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_torch(threads: int):
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (only possible before any parallel work)
        pass
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return torch


def versions() -> dict:
    import numpy
    import sentence_transformers
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "sentence_transformers": sentence_transformers.__version__,
            "tokenizers": tokenizers.__version__, "numpy": numpy.__version__}


def attention_implementation(model) -> str | None:
    """The attention of the underlying transformers model (eager, sdpa, ...), when it says."""
    for module in model.modules():
        config = getattr(module, "config", None)
        value = getattr(config, "_attn_implementation", None)
        if isinstance(value, str):
            return value
    return None


def timed_passes(run_pass, items: int, seconds: float, warm_up: bool = True) -> tuple[float, float, int]:
    """(items/s, elapsed seconds, passes) of ``run_pass``, after one warm-up pass unless done already."""
    if warm_up:
        run_pass()
    passes = 0
    start = time.perf_counter()
    while True:
        run_pass()
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return passes * items / elapsed, elapsed, passes


def common_fields(args, torch) -> dict:
    return {"versions": versions(), "threads": args.threads, "torch_threads": torch.get_num_threads(),
            "tokenizer_threads": os.environ.get("RAYON_NUM_THREADS"),
            "tokenizers_parallelism": os.environ.get("TOKENIZERS_PARALLELISM", "unset (on)"),
            "batch": args.batch}


def step_rerank(args) -> dict:
    pin_threads(args.threads)
    torch = load_torch(args.threads)
    from sentence_transformers import CrossEncoder

    pairs = []
    with open(args.pairs, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                item = json.loads(line)
                if not isinstance(item, dict) or "query" not in item or "text" not in item:
                    raise SystemExit(f"error: {args.pairs} line {number} is not a {{\"query\", \"text\"}} object")
                pairs.append((item["query"], item["text"]))
    if not pairs:
        raise SystemExit(f"error: no pairs in {args.pairs}")

    model = CrossEncoder(args.model, max_length=args.max_length, device="cpu")
    model.eval()
    # The tokens per pair the model sees (special tokens included, after truncation): the same
    # count as vitrine-bench rerank's mean_tokens when both tokenize alike.
    tokens = model.tokenizer([q for q, _ in pairs], [t for _, t in pairs], truncation=True,
                             max_length=args.max_length)["input_ids"]
    scores = model.predict(pairs, batch_size=args.batch, show_progress_bar=False)  # the warm-up pass

    def run_pass():
        model.predict(pairs, batch_size=args.batch, show_progress_bar=False)

    rate, elapsed, passes = timed_passes(run_pass, len(pairs), args.seconds, warm_up=False)
    return {"peer": "sentence-transformers CrossEncoder", **common_fields(args, torch),
            "max_length": args.max_length, "pairs": len(pairs),
            "mean_tokens": sum(map(len, tokens)) / len(tokens),
            "pairs_per_second": rate, "seconds": elapsed, "passes": passes,
            "activation": type(model.activation_fn).__name__ if model.activation_fn is not None else None,
            "attention": attention_implementation(model),
            "first_scores": [round(float(s), 6) for s in scores[:4]],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def step_embed(args) -> dict:
    pin_threads(args.threads)
    torch = load_torch(args.threads)
    from sentence_transformers import SentenceTransformer

    sentences = read_lines(args.sentences)
    if not sentences:
        raise SystemExit(f"error: no sentences in {args.sentences}")
    model = SentenceTransformer(args.model, device="cpu")
    model.eval()
    max_length = model.max_seq_length
    tokens = model.tokenizer(sentences, truncation=True, max_length=max_length)["input_ids"]

    def run_pass():
        model.encode(sentences, batch_size=args.batch, normalize_embeddings=True, show_progress_bar=False)

    rate, elapsed, passes = timed_passes(run_pass, len(sentences), args.seconds)
    return {"peer": "sentence-transformers SentenceTransformer", **common_fields(args, torch),
            "max_length": max_length, "sentences": len(sentences),
            "mean_tokens": sum(map(len, tokens)) / len(tokens),
            "sentences_per_second": rate, "seconds": elapsed, "passes": passes,
            "attention": attention_implementation(model),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# --------------------------------------------------------------------------------------------

def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)

    pairs = sub.add_parser("make-pairs", help="write the (query, product text) pairs as JSONL")
    pairs.add_argument("--sentences", default="bench/sentences.txt")
    pairs.add_argument("--out", required=True)
    pairs.add_argument("--queries", type=positive_int, default=16)
    pairs.add_argument("--per-query", type=positive_int, default=32,
                       help="product texts per query (the reranker reorders the top 32 of a search)")

    rerank = sub.add_parser("rerank", help="pairs/s of sentence-transformers' CrossEncoder.predict")
    rerank.add_argument("--model", required=True)
    rerank.add_argument("--pairs", required=True)
    rerank.add_argument("--max-length", type=positive_int, default=128)

    embed = sub.add_parser("embed", help="sentences/s of sentence-transformers' SentenceTransformer.encode")
    embed.add_argument("--model", required=True)
    embed.add_argument("--sentences", default="bench/sentences.txt")

    for step in (rerank, embed):
        step.add_argument("--threads", type=positive_int, default=2)
        step.add_argument("--batch", type=positive_int, default=32)
        step.add_argument("--seconds", type=positive_float, default=5.0)

    args = parser.parse_args(argv)
    if args.step == "make-pairs":
        step_make_pairs(args)
        return
    result = step_rerank(args) if args.step == "rerank" else step_embed(args)
    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
