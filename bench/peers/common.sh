# Set-up shared by embed.sh and serve.sh (sourced; they define `fail`, `root`, `venv`).

# ensure_venv STAMP PACKAGE...: the virtual environment $venv with exactly these pins, recorded in
# $venv/STAMP so an unchanged list installs nothing.
ensure_venv() {
    local stamp="$venv/$1"; shift
    local python=${PYTHON:-python3}
    command -v "$python" >/dev/null || fail "python3 is not installed (Debian: apt-get install python3 python3-venv)"
    local wanted="$*"
    [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] && return 0
    if [ ! -x "$venv/bin/python" ]; then
        echo "setting up $venv (torch is large: the first install takes a while)" >&2
        rm -rf "$venv"  # a leftover without a working python (a dangling link, a half-made one)
        "$python" -m venv "$venv" \
            || { rm -rf "$venv"; fail "cannot create a virtual environment (Debian: apt-get install python3-venv)"; }
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
        || fail "pip could not install $* into $venv (is PyPI reachable?)"
    echo "$wanted" > "$stamp"
}

# ensure_vitrine: prints the release `vitrine` binary, built (with `vitrine-bench` beside it) when
# either is missing or older than the sources.
ensure_vitrine() {
    local vitrine="$root/.build/release/vitrine" stale=""
    if [ -x "$vitrine" ] && [ -x "$vitrine-bench" ]; then
        stale=$(cd "$root" && find Sources Package.swift Package.resolved -newer "$vitrine-bench" -print -quit 2>/dev/null || true)
    fi
    if [ ! -x "$vitrine" ] || [ ! -x "$vitrine-bench" ] || [ -n "$stale" ]; then
        command -v swift >/dev/null || fail "swift is not installed; build vitrine elsewhere and pass --vitrine BIN"
        echo "building vitrine and vitrine-bench (release)${stale:+, $stale changed}" >&2
        (cd "$root" && swift build -c release --product vitrine && swift build -c release --product vitrine-bench) >&2 \
            || fail "swift build -c release failed"
    fi
    echo "$vitrine"
}
