#!/usr/bin/env bash
# End-to-end tests against a real `vitrine serve`: the web UI in headless Chromium and an API fuzz
# run (schemathesis). Installs what they need: Debian's chromium and chromium-driver, and the
# Python packages of requirements.txt in e2e/.venv (not in git). Uses the binary that
# `swift build` made (debug by default, as scripts/test.sh builds it), so nothing is rebuilt.
#   e2e/run.sh [--only browser|fuzz] [--vitrine PATH]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

missing=()
for p in chromium chromium-driver python3-venv; do
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

exec "$venv/bin/python" e2e/harness.py "$@"
