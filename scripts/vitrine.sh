#!/usr/bin/env bash
# The main job: installs what the build needs, builds the release binary once, and runs it.
#   scripts/vitrine.sh embed --model DIR_OR_REPO --text "red floral summer dress" --image photo.jpg --json
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
(cd "$root" && swift build -c release --product vitrine >&2)
exec "$root/.build/release/vitrine" "$@"
