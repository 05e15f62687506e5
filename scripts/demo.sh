#!/usr/bin/env bash
# The main job in one command: installs what the build needs, builds the release binary, makes sure
# a model is available, ingests a demo catalog (Fashion-MNIST from Debian's package) and serves the
# web UI and the API on localhost.
#
#   scripts/demo.sh
#
# Settings (environment):
#   VITRINE_MODEL       a hub repo id or a local model directory (default openai/clip-vit-base-patch32)
#   VITRINE_DEMO_ITEMS  Fashion-MNIST items to ingest (default 3000)
#   VITRINE_DEMO_DATA   the data directory (default data/demo)
#   VITRINE_PORT        the port (default 8080; 127.0.0.1 only)
# Re-running is cheap: ingest skips what the data directory already holds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

model=${VITRINE_MODEL:-openai/clip-vit-base-patch32}
items=${VITRINE_DEMO_ITEMS:-3000}
data=${VITRINE_DEMO_DATA:-data/demo}
port=${VITRINE_PORT:-8080}
dataset=/usr/share/datasets/fashion-mnist
random_model=models/vit-b32-random

say() { printf 'demo: %s\n' "$*" >&2; }

how_to_use_a_local_model() {
    cat >&2 <<EOF

To run without the hub, point VITRINE_MODEL at a local model directory in Hugging Face layout
(config.json, model.safetensors, vocab.json, merges.txt, preprocessor_config.json), for instance
one copied from a machine that has it, or a random-weight checkpoint of the same architecture
(rankings are then meaningless; everything else works):

  scripts/vitrine.sh model random --like Tests/Fixtures/models/openai-clip-vit-base-patch32-no-weights --out $random_model
  VITRINE_MODEL=$random_model scripts/demo.sh
EOF
}

[[ "$items" =~ ^[1-9][0-9]*$ ]] || { say "VITRINE_DEMO_ITEMS must be a positive whole number, not '$items'"; exit 2; }
[[ "$port" =~ ^[0-9]+$ ]] || { say "VITRINE_PORT must be a port number, not '$port'"; exit 2; }

scripts/install-deps.sh
say "building the release binary (the first build takes a while)"
swift build -c release --product vitrine >&2
vitrine=.build/release/vitrine

# The model: a local directory as it is, or a repo id from the Hugging Face cache, downloaded
# into it when missing.
if [ -d "$model" ]; then
    [ -f "$model/config.json" ] || { say "VITRINE_MODEL=$model is a directory without config.json: not a model directory"; how_to_use_a_local_model; exit 1; }
    say "model: the local directory $model"
elif [ -d "$(dirname "$model")" ] && [ "$(dirname "$model")" != . ]; then
    # models/foo where models/ exists: meant as a local directory, not as a hub repo id.
    say "VITRINE_MODEL=$model: no such model directory"
    how_to_use_a_local_model
    exit 1
elif [[ "$model" == */* && "$model" != /* && "$model" != .* ]]; then
    say "model: $model from the Hugging Face cache, downloading what is missing"
    if ! "$vitrine" model pull "$model" >/dev/null; then
        cache=${HF_HUB_CACHE:-${HF_HOME:-$HOME/.cache/huggingface}/hub}
        say "the model $model is not available: it is not fully in the Hugging Face cache ($cache)" \
            "and could not be downloaded$([ -n "${HF_HUB_OFFLINE:-}" ] && echo " (HF_HUB_OFFLINE=$HF_HUB_OFFLINE forbids the network)")."
        how_to_use_a_local_model
        exit 1
    fi
else
    say "VITRINE_MODEL=$model is neither a local directory nor a hub repo id (owner/name)"
    how_to_use_a_local_model
    exit 1
fi

[ -d "$dataset" ] || { say "Fashion-MNIST is missing at $dataset (Debian package dataset-fashion-mnist)"; exit 1; }
say "ingesting $items Fashion-MNIST items into $data"
status=0
"$vitrine" ingest "$dataset" --limit "$items" --data "$data" --model "$model" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    say "ingest failed (exit $status). If $data was built with another model, pick another directory: VITRINE_DEMO_DATA=data/demo-2 scripts/demo.sh"
    exit 1
fi

"$vitrine" serve --data "$data" --host 127.0.0.1 --port "$port" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server"' INT TERM
for _ in $(seq 1 600); do
    if ! kill -0 "$server" 2>/dev/null; then
        wait "$server" || true
        say "the server stopped before it was ready (is port $port taken? try VITRINE_PORT=8081 scripts/demo.sh)"
        exit 1
    fi
    if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "http://127.0.0.1:$port/readyz" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
cat >&2 <<EOF

  Vitrine is serving $data at  http://127.0.0.1:$port/
  (the API is described at http://127.0.0.1:$port/docs; Ctrl-C stops it)

EOF
wait "$server"
