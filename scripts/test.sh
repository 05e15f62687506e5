#!/usr/bin/env bash
# The test command: installs what the build needs, then builds once and runs every test.
# Parity fixtures are committed (Tests/Fixtures); torch is never installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
