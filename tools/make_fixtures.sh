#!/usr/bin/env bash
# Regenerates the parity fixtures under Tests/Fixtures from the reference implementation
# (transformers + torch + Pillow). Needs the network (PyPI) once; torch is large, so the virtual
# environment is kept in tools/.venv (ignored by git). CI never runs this script.
#   tools/make_fixtures.sh          # committed fixtures (small checkpoints)
#   tools/make_fixtures.sh --full   # also a full-size ViT-B/32 random checkpoint in .fixtures-full/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch transformers pillow safetensors numpy
fi
exec "$venv/bin/python" "$here/make_fixtures.py" "$@"
