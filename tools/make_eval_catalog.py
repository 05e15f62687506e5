#!/usr/bin/env python3
"""The evaluation fixture catalog: product-like records over real Fashion-MNIST photos, queries
a shopper would type, and graded judgements, for `vitrine eval` in the test command.

    python3 tools/make_eval_catalog.py --write Tests/Fixtures/eval-catalog      # the committed text files
    python3 tools/make_eval_catalog.py --images DIR [--catalog Tests/Fixtures/eval-catalog]
                                                  # DIR: the text files and the photos (PNG), ready to ingest

The text files are committed (products.csv, queries.jsonl, judgements.qrels); the photos are
cut out of Debian's dataset-fashion-mnist at test time (each product names its test-split
index), so nothing large is committed. Deterministic: the same seed writes the same files.

A product has a Fashion-MNIST class (its photo's), a colour, a pattern and a material, named and
described in words. A query asks for a class with a colour and/or a pattern; a product is
relevant with grade 2 when it has the class and every asked attribute, grade 1 when it has the
class and one of two asked attributes. Other products are unjudged (not relevant).
"""
import argparse
import csv
import gzip
import json
import os
import random
import struct
import zlib

CLASSES = [  # Fashion-MNIST's classes: (label, noun used in names and queries, category)
    (0, "t-shirt", "tops"), (1, "trousers", "bottoms"), (2, "pullover", "knitwear"), (3, "dress", "dresses"),
    (4, "coat", "outerwear"), (5, "sandals", "shoes"), (6, "shirt", "tops"), (7, "sneakers", "shoes"),
    (8, "bag", "bags"), (9, "ankle boots", "shoes"),
]
COLOURS = ["red", "navy", "black", "white", "green", "beige", "pink", "grey", "yellow", "brown"]
PATTERNS = ["floral", "striped", "plain", "polka-dot", "checked", "leopard-print"]
MATERIALS = ["cotton", "linen", "wool", "denim", "silk", "leather", "canvas", "suede"]
MARKETS = ["cz", "sk", "ro", "hu"]
PRODUCTS = 320
QUERIES = 48
DATASET = "/usr/share/datasets/fashion-mnist"


def catalog(seed):
    rng = random.Random(seed)
    labels = read_labels(os.path.join(DATASET, "t10k-labels-idx1-ubyte.gz"))
    by_class = {label: [i for i, l in enumerate(labels) if l == label] for label, _, _ in CLASSES}
    products = []
    for n in range(PRODUCTS):
        label, noun, category = CLASSES[n % len(CLASSES)]
        colour, pattern, material = rng.choice(COLOURS), rng.choice(PATTERNS), rng.choice(MATERIALS)
        index = by_class[label][n // len(CLASSES)]
        name = f"{colour.capitalize()} {pattern} {material} {noun}"
        description = (f"A {pattern} {noun} in {colour} {material}. "
                       f"{rng.choice(['Relaxed fit', 'Slim fit', 'Regular fit', 'Oversized cut'])}, "
                       f"{rng.choice(['for every day', 'for the office', 'for the weekend', 'for evenings out'])}.")
        products.append({"id": f"p{n:03d}", "name": name, "description": description, "category": category,
                         "market": MARKETS[n % len(MARKETS)], "image": f"photos/{index:05d}.png",
                         "_class": noun, "_colour": colour, "_pattern": pattern, "_index": index})
    queries, judgements = [], []
    shapes = ["colour", "pattern", "both"]
    q = 0
    while len(queries) < QUERIES:
        anchor = rng.choice(products)  # a query some product answers fully
        shape = shapes[q % len(shapes)]
        words = {"colour": [anchor["_colour"]], "pattern": [anchor["_pattern"]],
                 "both": [anchor["_colour"], anchor["_pattern"]]}[shape]
        text = " ".join(words + [anchor["_class"]])
        if any(existing["text"] == text for existing in queries):
            continue
        qid = f"q{len(queries):02d}"
        queries.append({"id": qid, "text": text})
        for p in products:
            if p["_class"] != anchor["_class"]:
                continue
            matched = sum(1 for w in words if w in (p["_colour"], p["_pattern"]))
            grade = 2 if matched == len(words) else (1 if matched and len(words) == 2 else 0)
            if grade:
                judgements.append((qid, p["id"], grade))
        q += 1
    return products, queries, judgements


def write(folder, seed):
    products, queries, judgements = catalog(seed)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "products.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["id", "name", "description", "category", "market", "images"])
        for p in products:
            writer.writerow([p["id"], p["name"], p["description"], p["category"], p["market"], p["image"]])
    with open(os.path.join(folder, "queries.jsonl"), "w", encoding="utf-8") as f:
        for query in queries:
            f.write(json.dumps(query) + "\n")
    with open(os.path.join(folder, "judgements.qrels"), "w", encoding="utf-8") as f:
        for qid, pid, grade in judgements:
            f.write(f"{qid} 0 {pid} {grade}\n")
    print(f"{folder}: {len(products)} products, {len(queries)} queries, {len(judgements)} judgements")


def read_labels(path):
    with gzip.open(path, "rb") as f:
        magic, count = struct.unpack(">II", f.read(8))
        assert magic == 2049, f"{path}: not an IDX label file"
        return list(f.read(count))


def images(folder, catalog_folder):
    """Writes each product's photo (its test-split image, 28×28 grey) as PNG under folder/photos/,
    and copies the catalog's text files beside them."""
    with open(os.path.join(catalog_folder, "products.csv"), encoding="utf-8") as f:
        wanted = sorted({int(os.path.basename(row["images"]).split(".")[0]) for row in csv.DictReader(f)})
    with gzip.open(os.path.join(DATASET, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051, "not an IDX image file"
        pixels = f.read(count * rows * cols)
    out = os.path.join(folder, "photos")
    os.makedirs(out, exist_ok=True)
    for index in wanted:
        raw = pixels[index * rows * cols:(index + 1) * rows * cols]
        # Fashion-MNIST is white on black; shop photos are dark on white.
        lines = b"".join(b"\x00" + bytes(255 - v for v in raw[r * cols:(r + 1) * cols]) for r in range(rows))
        with open(os.path.join(out, f"{index:05d}.png"), "wb") as png:
            png.write(b"\x89PNG\r\n\x1a\n")
            for kind, data in ((b"IHDR", struct.pack(">IIBBBBB", cols, rows, 8, 0, 0, 0, 0)),
                               (b"IDAT", zlib.compress(lines, 9)), (b"IEND", b"")):
                png.write(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)))
    for name in ("products.csv", "queries.jsonl", "judgements.qrels"):
        with open(os.path.join(catalog_folder, name), "rb") as source, open(os.path.join(folder, name), "wb") as copy:
            copy.write(source.read())
    print(f"{folder}: the catalog with its {len(wanted)} photos under photos/")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", metavar="DIR", help="write products.csv, queries.jsonl and judgements.qrels")
    parser.add_argument("--images", metavar="DIR", help="write the photos the catalog names under DIR/photos/")
    parser.add_argument("--catalog", default="Tests/Fixtures/eval-catalog", help="the catalog --images reads")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not args.write and not args.images:
        parser.error("give --write DIR or --images DIR")
    if args.write:
        write(args.write, args.seed)
    if args.images:
        images(args.images, args.catalog)
