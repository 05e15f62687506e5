#!/usr/bin/env bash
# End-to-end tests against a real `vitrine serve`: the web UI in headless Chromium, an API fuzz
# run (schemathesis), and query understanding against a real llama.cpp server. Installs what they
# need: Debian's chromium, chromium-driver and a C++ compiler, the Python packages of
# requirements.txt in e2e/.venv and those of requirements-llm.txt in e2e/.venv-llm (not in git;
# llama-cpp-python compiles for minutes, so its wheel is kept in VITRINE_WHEEL_CACHE, by default
# ~/.cache/vitrine/wheels, and built once). Uses the binary that
# `swift build` made (debug by default, as scripts/test.sh builds it), so nothing is rebuilt.
#   e2e/run.sh [--only browser|fuzz] [--vitrine PATH]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

missing=()
for p in chromium chromium-driver python3-venv g++; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv=e2e/.venv
requirements=e2e/requirements.txt
# Reinstall only when requirements.txt changed since the last install.
if ! cmp -s "$requirements" "$venv/.installed" 2>/dev/null; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/.installed"
fi

llm_venv=e2e/.venv-llm
llm_requirements=e2e/requirements-llm.txt
# llama.cpp is compiled for the AVX2 baseline every supported CPU has, never for the build
# machine's own (-march=native): a CPU may report instructions its virtual machine does not run
# (AMX tiles under KVM trap as invalid opcodes), and a cached wheel must run on the next machine.
# The cache directory is named for these flags, so a wheel built otherwise is never reused.
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
wheels="${VITRINE_WHEEL_CACHE:-$HOME/.cache/vitrine/wheels}/ggml-avx2"
llm_stamp=$(cat "$llm_requirements"; echo "CMAKE_ARGS=$CMAKE_ARGS")
if [ "$llm_stamp" != "$(cat "$llm_venv/.installed" 2>/dev/null)" ]; then
    # A fresh venv: pip keeps an installed package of the same version, however it was built.
    rm -rf "$llm_venv"
    python3 -m venv "$llm_venv"
    mkdir -p "$wheels"
    # Builds only what the cache lacks (llama-cpp-python's wheel, once), then installs from it;
    # not from pip's own cache, which keys a built wheel by its source and not by CMAKE_ARGS.
    echo "e2e: LLM server packages (building llama-cpp-python takes minutes the first time)" >&2
    "$llm_venv/bin/pip" wheel -q --disable-pip-version-check --no-cache-dir --find-links "$wheels" -w "$wheels" -r "$llm_requirements"
    "$llm_venv/bin/pip" install -q --disable-pip-version-check --no-index --find-links "$wheels" -r "$llm_requirements"
    echo "$llm_stamp" >"$llm_venv/.installed"
fi

exec "$venv/bin/python" e2e/harness.py --llm-python "$llm_venv/bin/python" "$@"
