#!/usr/bin/env python3
"""Where the keyword retriever's time goes (BENCHMARKS.md, "Keyword retriever at 100,000 products").

Runs each query of bench/sentences.txt (its first WORDS words) against a data directory's SQLite
catalog as `SQLiteCatalog.textSearch` does: all content words (AND), and when no product has
them all, any of them (OR). For every query it times, on one thread:
  - the ranked query the catalog runs (FTS5 `ORDER BY rank LIMIT depth`, bm25 with the name
    weighted 2 and the description 1), and
  - the same match counted without ranking, which is the cost of finding the products alone.
For each fallback it also times a tier the engine does not run (yet): the products with all but
one of the words, ranked the same way ("minimum should match"), and counts how often that tier
alone fills the depth.
The stop words are read from the Swift source, so the queries are the ones the engine makes.

    python3 bench/keyword.py DATA [--words 3] [--depth 100] [--rounds 3]
"""
import argparse
import itertools
import re
import sqlite3
import statistics
import time
import unicodedata
from pathlib import Path

root = Path(__file__).resolve().parent.parent


def stop_words():
    source = (root / "Sources/VitrineCatalog/SQLiteCatalog+Search.swift").read_text()
    block = re.search(r"static let stopWords: Set<String> = \[(.*?)\]", source, re.S).group(1)
    return set(re.findall(r'"([^"]*)"', block))


def fold(word):
    return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) not in ("Mn", "Me"))


def terms(text, stops):
    words = [w for w in text.split() if any(c.isalnum() for c in w)]
    content = [w for w in words if w.lower().strip(".,;:!?'\"()") not in stops]
    return (content, content if len(content) > 1 else []) if content else (words, [])


def match(words, op):
    return f" {op} ".join('"' + fold(w).replace('"', '""') + '"' for w in words)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="a data directory with a SQLite catalog (catalog.sqlite)")
    parser.add_argument("--words", type=int, default=3, help="keep the first N words of each query (0: whole lines)")
    parser.add_argument("--depth", type=int, default=100, help="products ranked per query (the fusion depth)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    db = sqlite3.connect(f"file:{Path(args.data) / 'catalog.sqlite'}?mode=ro", uri=True)
    products = db.execute("SELECT count(*) FROM products").fetchone()[0]
    ranked_sql = ("SELECT rowid FROM products_fts WHERE products_fts MATCH ? AND rank MATCH 'bm25(2.0, 1.0)' "
                  "ORDER BY rank LIMIT ?")
    count_sql = "SELECT count(*) FROM products_fts WHERE products_fts MATCH ?"
    stops = stop_words()
    lines = [line.split() for line in (root / "bench/sentences.txt").read_text().splitlines() if line.strip()]
    queries = [terms(" ".join(words[:args.words] if args.words else words), stops) for words in lines]

    def timed(sql, *arguments):
        start = time.perf_counter()
        rows = db.execute(sql, arguments).fetchall()
        return (time.perf_counter() - start) * 1000, rows

    print(f"SQLite {sqlite3.sqlite_version}, {products} products, {len(queries)} queries of "
          f"{args.words or 'all'} words, depth {args.depth}, {args.rounds} rounds")
    print("| round | query | queries | ranked ms: mean | p50 | p99 | matches: median | counted ms: mean |")
    print("|--:|---|--:|--:|--:|--:|--:|--:|")
    for round in range(1, args.rounds + 1):
        filled = 0
        kinds = {"all words (AND)": [], "any word (OR fallback)": [], "all but one word (not run by the engine)": []}
        for all_words, any_words in queries:
            expression = match(all_words, "AND")
            ranked, rows = timed(ranked_sql, expression, args.depth)
            counted, count = timed(count_sql, expression)
            kind = "all words (AND)"
            if not rows and any_words:
                kinds[kind].append((ranked, counted, count[0][0]))
                expression = match(any_words, "OR")
                ranked, rows = timed(ranked_sql, expression, args.depth)
                counted, count = timed(count_sql, expression)
                kind = "any word (OR fallback)"
                if len(any_words) > 2:
                    tier = " OR ".join(f"({match(list(subset), 'AND')})" for subset in itertools.combinations(any_words, len(any_words) - 1))
                    tier_ranked, tier_rows = timed(ranked_sql, tier, args.depth)
                    tier_counted, tier_count = timed(count_sql, tier)
                    kinds["all but one word (not run by the engine)"].append((tier_ranked, tier_counted, tier_count[0][0]))
                    filled += len(tier_rows) >= args.depth
            kinds[kind].append((ranked, counted, count[0][0]))
        for kind, runs in kinds.items():
            if not runs:
                continue
            ranked = sorted(r[0] for r in runs)
            p99 = ranked[min(len(ranked) - 1, round_up(0.99 * len(ranked)) - 1)]
            print(f"| {round} | {kind} | {len(runs)} | {statistics.mean(ranked):.2f} | {statistics.median(ranked):.2f} | "
                  f"{p99:.2f} | {statistics.median(r[2] for r in runs):.0f} | {statistics.mean(r[1] for r in runs):.2f} |")
        print(f"round {round}: the all-but-one tier alone gave the full {args.depth} for {filled} fallbacks")


def round_up(x):
    return int(-(-x // 1))


if __name__ == "__main__":
    main()
