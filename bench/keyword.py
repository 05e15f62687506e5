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
import math
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


# The letters TextFolding maps to their base besides dropping combining marks.
BASE_LETTERS = str.maketrans({"ı": "i", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L"})


def fold(word):
    """TextFolding.fold: canonical decomposition, combining marks dropped, a few letters mapped."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Me")).translate(BASE_LETTERS)


def trim_punctuation(word):
    """Leading and trailing Unicode punctuation off, as Swift's `.punctuationCharacters` trims."""
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(word[end - 1]).startswith("P"):
        end -= 1
    return word[start:end]


def terms(text, stops):
    """FullTextQuery.terms: the words all must match, and the words any may match on fallback."""
    words = [w for w in text.replace("\0", " ").split() if any(c.isalnum() for c in w)]
    content = [w for w in words if trim_punctuation(w.lower()) not in stops]
    return (content, content if len(content) > 1 else []) if content else (words, [])


def match(words, op):
    """FullTextQuery.match: each word folded and quoted as an FTS5 string, joined by op."""
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

    def measure(expression):
        """(ranked ms, counted ms, matches, ranked rows) of one FTS5 expression."""
        start = time.perf_counter()
        rows = db.execute(ranked_sql, (expression, args.depth)).fetchall()
        ranked = time.perf_counter() - start
        start = time.perf_counter()
        matches = db.execute(count_sql, (expression,)).fetchone()[0]
        counted = time.perf_counter() - start
        return ranked * 1000, counted * 1000, matches, len(rows)

    print(f"SQLite {sqlite3.sqlite_version}, {products} products, {len(queries)} queries of "
          f"{args.words or 'all'} words, depth {args.depth}, {args.rounds} rounds")
    print("| round | query | queries | ranked ms: mean | p50 | p99 | matches: median | counted ms: mean |")
    print("|--:|---|--:|--:|--:|--:|--:|--:|")
    for round in range(1, args.rounds + 1):
        filled = 0
        every, fallback, tier = "all words (AND)", "any word (OR fallback)", "all but one word (not run by the engine)"
        kinds = {every: [], fallback: [], tier: []}
        for all_words, any_words in queries:
            kinds[every].append(measure(match(all_words, "AND")))
            if kinds[every][-1][3] > 0 or not any_words:
                continue
            kinds[fallback].append(measure(match(any_words, "OR")))
            if len(any_words) > 2:
                subsets = itertools.combinations(any_words, len(any_words) - 1)
                kinds[tier].append(measure(" OR ".join(f"({match(list(subset), 'AND')})" for subset in subsets)))
                filled += kinds[tier][-1][3] >= args.depth
        for kind, runs in kinds.items():
            if not runs:
                continue
            ranked = sorted(r[0] for r in runs)
            p99 = ranked[math.ceil(0.99 * len(ranked)) - 1]
            print(f"| {round} | {kind} | {len(runs)} | {statistics.mean(ranked):.2f} | {statistics.median(ranked):.2f} | "
                  f"{p99:.2f} | {statistics.median(r[2] for r in runs):.0f} | {statistics.mean(r[1] for r in runs):.2f} |")
        print(f"round {round}: the all-but-one tier alone gave the full {args.depth} for {filled} fallbacks")


if __name__ == "__main__":
    main()
