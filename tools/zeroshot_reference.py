#!/usr/bin/env python3
"""scikit-learn's accuracy, top-5 accuracy and weighted F1 of zero-shot predictions.

    python tools/zeroshot_reference.py PREDICTIONS.json

PREDICTIONS.json is `vitrine eval fashion-mnist --json --predictions`'s "predictions": one row
per image, its true class first, then every class best first. Prints {"top1", "top5",
"weighted_f1"}; the zero-shot CLI test compares them with Vitrine's report.
"""
import json
import sys

from sklearn.metrics import accuracy_score, f1_score

rows = json.load(open(sys.argv[1]))
truth = [row[0] for row in rows]
first = [row[1] for row in rows]
top5 = sum(row[0] in row[1:6] for row in rows) / len(rows)
labels = sorted({c for row in rows for c in row[1:]})
print(json.dumps({
    "top1": accuracy_score(truth, first),
    "top5": top5,
    "weighted_f1": f1_score(truth, first, average="weighted", labels=labels, zero_division=0),
}))
