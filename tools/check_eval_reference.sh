#!/usr/bin/env bash
# Recomputes the committed metric fixtures (Tests/Fixtures/eval/expected.json) with the reference
# libraries themselves, pytrec_eval and ranx from PyPI, and fails when any value differs: the
# Swift tests compare `vitrine eval`'s metrics with these files (docs/eval-metrics.md), and the
# zero-shot test compares its accuracy and weighted F1 with scikit-learn's, installed here too.
# The venv lives in .eval-venv/ (about 700 MB: ranx brings numba); its first run JIT-compiles
# ranx's kernels (1-2 minutes), later runs reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.eval-venv
if ! "$venv/bin/python" -c "import ranx, pytrec_eval, sklearn" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check ranx==0.3.21 pytrec-eval-terrier==0.5.11 scikit-learn==1.5.2
fi
"$venv/bin/python" tools/eval_reference.py --check Tests/Fixtures/eval
