#!/usr/bin/env bash
# The compose stack's topology natively on loopback, for machines without Docker and for the live
# tests (deploy/live/run.sh): PostgreSQL 15, SeaweedFS's S3 gateway and Milvus 2.3.5 standalone
# (scripts/servers.sh), a small catalog ingested into them, two `vitrine serve` replicas over those
# stores, nginx in front of them (deploy/nginx/vitrine-local.conf.tmpl, TLS with a self-signed
# certificate), Prometheus (deploy/prometheus/prometheus-local.yml.tmpl, the stack's rules),
# Alertmanager (deploy/alertmanager/alertmanager-local.yml.tmpl) and, unless a real webhook is
# given, a local server speaking Discord's webhook API that Alertmanager posts to
# (deploy/live/discord_sink.py). Every process runs as a child of no terminal, on free ports, with
# its state in .local-stack/ (or LOCAL_STACK_DIR).
#
#   scripts/local-stack.sh up       install what is missing, start everything, wait until all is ready
#   scripts/local-stack.sh status   what runs, and whether it answers
#   scripts/local-stack.sh down     stop everything by pid, remove the state directory
#
# `up` writes .local-stack/env, KEY='VALUE' lines (`set -a; . .local-stack/env; set +a` exports
# them): the URLs, pids and logs of every part, and the stores' URLs and credentials under the
# names `vitrine` reads (VITRINE_CATALOG, VITRINE_BLOBS, VITRINE_VECTORS, PGPASSWORD,
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, MILVUS_TOKEN), so a later `vitrine ingest` writes into
# the same stores. If .servers/env names storage servers that answer (scripts/test.sh starts them
# once per run), they are reused and left running by `down`; otherwise `up` starts them and `down`
# stops them.
#
# Settings (environment):
#   VITRINE_BIN                      the vitrine binary (default: swift build -c release --product vitrine)
#   LOCAL_STACK_MODEL                model directory (default: the committed tiny test model,
#                                    Tests/Fixtures/models/tiny-clip-p32; rankings are meaningless)
#   LOCAL_STACK_DATASET              what to ingest (default: Debian's Fashion-MNIST)
#   LOCAL_STACK_ITEMS                how many products to ingest from it (default 200)
#   LOCAL_STACK_DISCORD_WEBHOOK_FILE a file holding a real Discord webhook URL (default: the local sink)
#   LOCAL_STACK_MILVUS_METRICS       host:port of Milvus's metrics (default: VITRINE_TEST_MILVUS_METRICS of
#                                    .servers/env, else 127.0.0.1:9091)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${LOCAL_STACK_DIR:-$root/.local-stack}
pids="$state/pids"
logs="$state/logs"
# The stores' names in the shared servers (a schema, a bucket, a collection).
store=vitrine_local
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

log() { echo "local-stack: $*" >&2; }
die() { echo "local-stack: $*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A pid is running unless it is gone or a zombie nobody reaped yet.
alive() {
    local pid=$1 status
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    status=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ "$status" != Z ]
}

# Ours: every process the stack starts has the state directory in its command line, so a pid
# file left by a crash never makes `down` signal an unrelated process that reused the number.
ours() {
    alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$state"
}

# stop NAME [SECONDS]: SIGTERM to the process of pids/NAME.pid, SIGKILL after SECONDS (10).
stop() {
    local name=$1 seconds=${2:-10} file="$pids/$1.pid" pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if ours "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 $((seconds * 10))); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then
            log "$name (pid $pid) did not stop within $seconds s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
        fi
    fi
    rm -f "$file"
}

# wait_until SECONDS WHAT LOGFILE NAME COMMAND...: poll until COMMAND succeeds, else fail naming
# WHAT and showing the end of its log; at once when the process of pids/NAME.pid (if NAME is not
# empty) has exited.
wait_until() {
    local seconds=$1 what=$2 logfile=$3 name=$4 deadline pid
    shift 4
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        pid=""
        [ -n "$name" ] && [ -f "$pids/$name.pid" ] && pid=$(cat "$pids/$name.pid")
        if [ -n "$pid" ] && ! alive "$pid"; then
            log "$what: the process (pid $pid) exited"
            if [ -n "$logfile" ] && [ -f "$logfile" ]; then
                log "last lines of $logfile:"
                tail -n 25 "$logfile" >&2
            fi
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "$what did not become ready within $seconds s"
            if [ -n "$logfile" ] && [ -f "$logfile" ]; then
                log "last lines of $logfile:"
                tail -n 25 "$logfile" >&2
            fi
            return 1
        fi
        sleep 0.2
    done
}

http_code() {  # http_code URL [curl options...]: the status, 000 when nothing answered
    local url=$1
    shift
    curl -s -o /dev/null -m 3 -w '%{http_code}' "$@" "$url" 2>/dev/null || true
}
answers() {  # answers CODE URL [curl options...]
    local want=$1
    shift
    [ "$(http_code "$@")" = "$want" ]
}

# ------------------------------------------------------------------------------------------ install
ensure_packages() {
    local wanted=(nginx prometheus prometheus-alertmanager openssl curl python3) missing=()
    [ -z "${LOCAL_STACK_DATASET:-}" ] && wanted+=(dataset-fashion-mnist)
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ------------------------------------------------------------------------------------------ storage
# True when .servers/env names PostgreSQL, S3 and Milvus and each of them answers.
servers_answer() {
    [ -f "$root/.servers/env" ] || return 1
    (
        # shellcheck disable=SC1091
        source "$root/.servers/env"
        [ -n "${VITRINE_TEST_POSTGRES_URL:-}" ] && [ -n "${VITRINE_TEST_S3_ENDPOINT:-}" ] && [ -n "${VITRINE_TEST_MILVUS_URL:-}" ] || exit 1
        python3 - "$VITRINE_TEST_POSTGRES_URL" "$VITRINE_TEST_MILVUS_URL" <<'PY' || exit 1
import socket, sys
from urllib.parse import urlsplit
for url in sys.argv[1:]:
    u = urlsplit(url)
    socket.create_connection((u.hostname, u.port), 2).close()
PY
        code=$(http_code "$VITRINE_TEST_S3_ENDPOINT/")
        [ "$code" = 200 ] || [ "$code" = 403 ]
    )
}

# ------------------------------------------------------------------------------------------ up
write_env() {  # write_env KEY VALUE...: KEY='VALUE' lines (values never hold a single quote)
    while [ $# -gt 0 ]; do
        case $2 in *"'"*) die "a value of $1 holds a single quote: $2" ;; esac
        printf "%s='%s'\n" "$1" "$2"
        shift 2
    done
}

up() {
    if [ -d "$pids" ]; then
        for file in "$pids"/*.pid; do
            [ -f "$file" ] || continue
            if ours "$(cat "$file")"; then
                die "already up ($(basename "$file" .pid) runs as pid $(cat "$file")): scripts/local-stack.sh status, or down first"
            fi
        done
    fi
    # A stale directory from a run that died: start afresh, but remember servers it started.
    local started_servers=""
    [ -f "$state/started-servers" ] && started_servers=1
    rm -rf "$state"
    mkdir -p "$pids" "$logs"
    chmod 755 "$state"
    [ -n "$started_servers" ] && touch "$state/started-servers"

    ready=""
    # Whatever fails below, take down what was started so far.
    trap 'if [ -z "$ready" ]; then log "up failed: stopping what was started"; down; fi' EXIT

    ensure_packages

    # The binary.
    local bin
    if [ -n "${VITRINE_BIN:-}" ]; then
        bin=$VITRINE_BIN
    else
        log "VITRINE_BIN not set: building the release binary (swift build -c release --product vitrine)"
        (cd "$root" && swift build -c release --product vitrine >&2)
        bin="$(cd "$root" && swift build -c release --show-bin-path)/vitrine"
    fi
    [ -x "$bin" ] || die "the vitrine binary $bin does not exist or is not executable (set VITRINE_BIN)"
    bin=$(realpath "$bin")

    # Flags of `vitrine ingest` that older binaries lack: used when the binary has them.
    local ingest_help ingest_flags=() ingest_metrics=0
    ingest_help=$("$bin" ingest --help 2>&1 || true)
    case $ingest_help in *--metrics-address*) ingest_metrics=1 ;; esac
    case $ingest_help in *--log-format*) ingest_flags+=(--log-format json) ;; esac

    # Storage servers.
    if servers_answer; then
        log "reusing the storage servers of .servers/env (left running by down)"
    else
        log "starting the storage servers (scripts/servers.sh start)"
        touch "$state/started-servers"
        "$root/scripts/servers.sh" start
        servers_answer || die "the storage servers of .servers/env do not answer (PostgreSQL, SeaweedFS S3 and Milvus are all needed)"
    fi
    # shellcheck disable=SC1091
    source "$root/.servers/env"

    local model=${LOCAL_STACK_MODEL:-$root/Tests/Fixtures/models/tiny-clip-p32}
    local dataset=${LOCAL_STACK_DATASET:-/usr/share/datasets/fashion-mnist} items=${LOCAL_STACK_ITEMS:-200}
    # A local directory (made absolute), or a hub repo id as `vitrine --model` takes it.
    if [ -d "$model" ]; then
        [ -f "$model/config.json" ] || die "$model has no config.json: not a model directory (LOCAL_STACK_MODEL)"
        model=$(realpath "$model")
    fi
    [ -e "$dataset" ] || die "no dataset at $dataset (LOCAL_STACK_DATASET)"

    local api_key catalog blobs vectors
    api_key=$(openssl rand -hex 24)
    catalog="$VITRINE_TEST_POSTGRES_URL?schema=$store"
    blobs="s3://${store//_/-}/photos?endpoint=$VITRINE_TEST_S3_ENDPOINT&region=us-east-1"
    vectors="${VITRINE_TEST_MILVUS_URL%/*}/$store"

    # What every vitrine process of the stack reads: the stores and their credentials (from the
    # environment, never the command line), the write key.
    (
        umask 077
        write_env VITRINE_CATALOG "$catalog" VITRINE_BLOBS "$blobs" VITRINE_VECTORS "$vectors" \
            PGPASSWORD "$VITRINE_TEST_POSTGRES_PASSWORD" AWS_ACCESS_KEY_ID "$VITRINE_TEST_S3_ACCESS_KEY" \
            AWS_SECRET_ACCESS_KEY "$VITRINE_TEST_S3_SECRET_KEY" VITRINE_API_KEYS "$api_key"
        if [ -n "${VITRINE_TEST_MILVUS_TOKEN:-}" ]; then write_env MILVUS_TOKEN "$VITRINE_TEST_MILVUS_TOKEN"; fi
        if [ -n "${VITRINE_RESOURCES:-}" ]; then write_env VITRINE_RESOURCES "$VITRINE_RESOURCES"; fi
    ) >"$state/vitrine.env"

    local p_vitrine1 p_vitrine2 p_http p_https p_prometheus p_alertmanager p_sink p_ingest
    p_vitrine1=$(free_port); p_vitrine2=$(free_port); p_http=$(free_port); p_https=$(free_port)
    p_prometheus=$(free_port); p_alertmanager=$(free_port); p_sink=$(free_port); p_ingest=$(free_port)
    local milvus_metrics=${LOCAL_STACK_MILVUS_METRICS:-${VITRINE_TEST_MILVUS_METRICS:-127.0.0.1:9091}}
    answers 200 "http://$milvus_metrics/healthz" \
        || log "note: Milvus's metrics do not answer on $milvus_metrics (LOCAL_STACK_MILVUS_METRICS): its scrape job stays down"

    # ---- Discord: the local sink, or a real webhook URL file.
    local webhook_file sink_file=""
    if [ -n "${LOCAL_STACK_DISCORD_WEBHOOK_FILE:-}" ]; then
        webhook_file=$LOCAL_STACK_DISCORD_WEBHOOK_FILE
        [ -r "$webhook_file" ] || die "cannot read LOCAL_STACK_DISCORD_WEBHOOK_FILE $webhook_file"
        log "alerts go to the Discord webhook in $webhook_file"
    else
        sink_file="$state/discord-messages.jsonl"
        webhook_file="$state/discord-webhook-url"
        echo "http://127.0.0.1:$p_sink/api/webhooks/1000000000000000001/local-stack-token" >"$webhook_file"
        python3 "$root/deploy/live/discord_sink.py" --port "$p_sink" --out "$sink_file" \
            </dev/null >"$logs/discord-sink.log" 2>&1 &
        echo $! >"$pids/discord-sink.pid"
        wait_until 15 "the Discord sink on 127.0.0.1:$p_sink" "$logs/discord-sink.log" discord-sink \
            answers 200 "$(cat "$webhook_file")"
    fi

    # ---- Alertmanager.
    mkdir -p "$state/alertmanager/data"
    "$root/deploy/alertmanager/render-config.sh" "$root/deploy/alertmanager/alertmanager-local.yml.tmpl" "$webhook_file" \
        "$state/alertmanager/alertmanager.yml" "TEMPLATES_DIR=$root/deploy/alertmanager/templates"
    amtool check-config "$state/alertmanager/alertmanager.yml" >"$logs/amtool.log" 2>&1 \
        || { cat "$logs/amtool.log" >&2; die "amtool refused the rendered Alertmanager configuration"; }
    prometheus-alertmanager --config.file="$state/alertmanager/alertmanager.yml" \
        --storage.path="$state/alertmanager/data" --web.listen-address="127.0.0.1:$p_alertmanager" \
        --web.external-url="http://127.0.0.1:$p_alertmanager/" --cluster.listen-address= \
        </dev/null >"$logs/alertmanager.log" 2>&1 &
    echo $! >"$pids/alertmanager.pid"
    wait_until 30 "Alertmanager on 127.0.0.1:$p_alertmanager" "$logs/alertmanager.log" alertmanager \
        answers 200 "http://127.0.0.1:$p_alertmanager/-/ready"

    # ---- Prometheus.
    mkdir -p "$state/prometheus/data"
    sed -e "s|@VITRINE_1@|127.0.0.1:$p_vitrine1|g" -e "s|@VITRINE_2@|127.0.0.1:$p_vitrine2|g" \
        -e "s|@INGEST@|127.0.0.1:$p_ingest|g" -e "s|@MILVUS@|$milvus_metrics|g" \
        -e "s|@ALERTMANAGER@|127.0.0.1:$p_alertmanager|g" -e "s|@PROMETHEUS@|127.0.0.1:$p_prometheus|g" \
        -e "s|@RULES_DIR@|$root/deploy/prometheus/rules|g" \
        "$root/deploy/prometheus/prometheus-local.yml.tmpl" >"$state/prometheus/prometheus.yml"
    promtool check config "$state/prometheus/prometheus.yml" >"$logs/promtool.log" 2>&1 \
        || { cat "$logs/promtool.log" >&2; die "promtool refused the rendered Prometheus configuration"; }
    prometheus --config.file="$state/prometheus/prometheus.yml" --storage.tsdb.path="$state/prometheus/data" \
        --storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$p_prometheus" \
        --web.external-url="http://127.0.0.1:$p_prometheus/" \
        </dev/null >"$logs/prometheus.log" 2>&1 &
    echo $! >"$pids/prometheus.pid"
    wait_until 60 "Prometheus on 127.0.0.1:$p_prometheus" "$logs/prometheus.log" prometheus \
        answers 200 "http://127.0.0.1:$p_prometheus/-/ready"

    # ---- The catalog: an ingest into the stores (scraped by Prometheus when the binary serves
    # /metrics from an ingest; older binaries lack --metrics-address and run without it).
    if [ "$ingest_metrics" = 1 ]; then
        ingest_flags+=(--metrics-address "127.0.0.1:$p_ingest")
    else
        log "note: this vitrine has no 'ingest --metrics-address': the vitrine-ingest job stays down"
    fi
    log "ingesting $items products of $dataset with $(basename "$model")"
    local status=0
    (
        set -a
        # shellcheck disable=SC1091
        . "$state/vitrine.env"
        set +a
        exec "$bin" ingest "$dataset" --limit "$items" --data "$state/ingest" --model "$model" \
            --report "$state/ingest-report.json" "${ingest_flags[@]}" </dev/null >"$logs/ingest.out" 2>"$logs/ingest.log"
    ) &
    echo $! >"$pids/ingest.pid"
    wait "$(cat "$pids/ingest.pid")" || status=$?
    rm -f "$pids/ingest.pid"
    case $status in
        0) ;;
        3) log "note: the ingest rejected some items (exit 3): see $state/ingest-report.json" ;;
        *) tail -n 25 "$logs/ingest.log" >&2; die "the ingest failed (exit $status): $logs/ingest.log" ;;
    esac

    # ---- Two replicas, each started by a script of its own that a test can run again to restart
    # it after stopping it (it records its pid in pids/vitrine-N.pid, and appends to its logs).
    local n port
    for n in 1 2; do
        port=$p_vitrine1
        [ "$n" = 2 ] && port=$p_vitrine2
        mkdir -p "$state/replica-$n"
        cat >"$state/vitrine-$n.sh" <<SH
#!/bin/sh
# Replica $n of the loopback stack (scripts/local-stack.sh). Run it again to restart the replica
# after stopping it: it records its pid and appends to its logs.
set -eu
set -a
. '$state/vitrine.env'
set +a
echo \$\$ >'$pids/vitrine-$n.pid'
exec '$bin' serve --data '$state/replica-$n' --model '$model' --host 127.0.0.1 --port $port \\
    </dev/null >>'$logs/vitrine-$n.out' 2>>'$logs/vitrine-$n.log'
SH
        chmod 755 "$state/vitrine-$n.sh"
        "$state/vitrine-$n.sh" &
    done
    for n in 1 2; do
        port=$p_vitrine1
        [ "$n" = 2 ] && port=$p_vitrine2
        wait_until 120 "vitrine replica $n (GET http://127.0.0.1:$port/readyz answering 200)" "$logs/vitrine-$n.log" "vitrine-$n" \
            answers 200 "http://127.0.0.1:$port/readyz"
    done

    # ---- nginx, with a self-signed certificate for 127.0.0.1 and localhost.
    mkdir -p "$state/nginx"
    chmod 755 "$state/nginx"
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$state/nginx/tls.key" -out "$state/nginx/tls.crt" 2>"$logs/openssl.log" \
        || { cat "$logs/openssl.log" >&2; die "openssl could not make the TLS certificate"; }
    chmod 600 "$state/nginx/tls.key"
    sed -e "s|@PREFIX@|$state/nginx|g" -e "s|@NGINX_DIR@|$root/deploy/nginx|g" \
        -e "s|@UPSTREAM_1@|127.0.0.1:$p_vitrine1|g" -e "s|@UPSTREAM_2@|127.0.0.1:$p_vitrine2|g" \
        -e "s|@HTTP_PORT@|$p_http|g" -e "s|@HTTPS_PORT@|$p_https|g" \
        -e "s|@CERT@|$state/nginx/tls.crt|g" -e "s|@KEY@|$state/nginx/tls.key|g" \
        "$root/deploy/nginx/vitrine-local.conf.tmpl" >"$state/nginx/nginx.conf"
    local nginx_args=(-p "$state/nginx" -c "$state/nginx/nginx.conf" -e "$state/nginx/error.log")
    nginx "${nginx_args[@]}" -t -g "pid $state/nginx/nginx.pid;" >"$logs/nginx-t.log" 2>&1 \
        || { cat "$logs/nginx-t.log" >&2; die "nginx -t refused the rendered configuration $state/nginx/nginx.conf"; }
    nginx "${nginx_args[@]}" -g "pid $state/nginx/nginx.pid; daemon off;" </dev/null >"$logs/nginx.log" 2>&1 &
    echo $! >"$pids/nginx.pid"
    wait_until 20 "nginx on 127.0.0.1:$p_http and :$p_https" "$state/nginx/error.log" nginx \
        sh -c "[ \"\$(curl -s -o /dev/null -m 3 -w '%{http_code}' http://127.0.0.1:$p_http/nginx-health)\" = 200 ] \
               && [ \"\$(curl -s -o /dev/null -m 3 -w '%{http_code}' --cacert '$state/nginx/tls.crt' https://127.0.0.1:$p_https/readyz)\" = 200 ]"

    # ---- Prometheus sees both replicas.
    local both_up='
import json, sys, urllib.parse, urllib.request
query = urllib.parse.urlencode({"query": "sum(up{job=\"vitrine\"})"})
with urllib.request.urlopen(f"{sys.argv[1]}/api/v1/query?{query}", timeout=3) as r:
    result = json.load(r)["data"]["result"]
sys.exit(0 if result and float(result[0]["value"][1]) == 2 else 1)
'
    wait_until 30 "Prometheus scraping both replicas (up{job=\"vitrine\"} == 1)" "$logs/prometheus.log" prometheus \
        python3 -c "$both_up" "http://127.0.0.1:$p_prometheus"

    {
        echo "# The loopback stack (scripts/local-stack.sh up). Export with: set -a; . $state/env; set +a"
        write_env LOCAL_STACK_DIR "$state" VITRINE_BIN "$bin" VITRINE_MODEL "$model" \
            LOCAL_STACK_SERVERS "$([ -f "$state/started-servers" ] && echo started || echo reused)" \
            VITRINE_1_URL "http://127.0.0.1:$p_vitrine1" VITRINE_2_URL "http://127.0.0.1:$p_vitrine2" \
            VITRINE_1_ADDRESS "127.0.0.1:$p_vitrine1" VITRINE_2_ADDRESS "127.0.0.1:$p_vitrine2" \
            VITRINE_1_LOG "$logs/vitrine-1.log" VITRINE_2_LOG "$logs/vitrine-2.log" \
            VITRINE_1_PID "$(cat "$pids/vitrine-1.pid")" VITRINE_2_PID "$(cat "$pids/vitrine-2.pid")" \
            VITRINE_1_PID_FILE "$pids/vitrine-1.pid" VITRINE_2_PID_FILE "$pids/vitrine-2.pid" \
            VITRINE_1_START "$state/vitrine-1.sh" VITRINE_2_START "$state/vitrine-2.sh" \
            NGINX_HTTP_URL "http://127.0.0.1:$p_http" NGINX_HTTPS_URL "https://127.0.0.1:$p_https" \
            NGINX_CERT "$state/nginx/tls.crt" NGINX_PID "$(cat "$pids/nginx.pid")" \
            NGINX_ACCESS_LOG "$state/nginx/access.log" NGINX_ERROR_LOG "$state/nginx/error.log" \
            PROMETHEUS_URL "http://127.0.0.1:$p_prometheus" PROMETHEUS_CONFIG "$state/prometheus/prometheus.yml" \
            ALERTMANAGER_URL "http://127.0.0.1:$p_alertmanager" \
            DISCORD_SINK_FILE "$sink_file" DISCORD_SINK_URL "$([ -n "$sink_file" ] && cat "$webhook_file")" \
            INGEST_METRICS_ADDRESS "127.0.0.1:$p_ingest" INGEST_METRICS_SUPPORTED "$ingest_metrics" \
            INGEST_LOG "$logs/ingest.log" INGEST_REPORT "$state/ingest-report.json" \
            MILVUS_METRICS_ADDRESS "$milvus_metrics" LOCAL_STACK_API_KEY "$api_key"
        echo "# The stores, under the names vitrine reads (a later 'vitrine ingest --data DIR --model \$VITRINE_MODEL' writes into them)."
        cat "$state/vitrine.env"
    } >"$state/env.tmp"
    chmod 600 "$state/env.tmp"
    mv "$state/env.tmp" "$state/env"
    ready=1
    trap - EXIT
    log "up: nginx https://127.0.0.1:$p_https/ (http :$p_http redirects), replicas :$p_vitrine1 and :$p_vitrine2,"
    log "    Prometheus http://127.0.0.1:$p_prometheus/, Alertmanager http://127.0.0.1:$p_alertmanager/${sink_file:+, Discord sink $sink_file}"
    log "    settings in $state/env; stop with scripts/local-stack.sh down"
}

# ------------------------------------------------------------------------------------------ down
down() {
    if [ ! -d "$state" ]; then
        log "nothing to stop ($state does not exist)"
        return 0
    fi
    stop nginx
    stop ingest
    stop vitrine-1 15
    stop vitrine-2 15
    stop prometheus 20
    stop alertmanager
    stop discord-sink
    local left=""
    for file in "$pids"/*.pid; do
        [ -f "$file" ] || continue
        if ours "$(cat "$file")"; then left="$left $(basename "$file" .pid)"; else rm -f "$file"; fi
    done
    [ -z "$left" ] || log "still running:$left"
    if [ -f "$state/started-servers" ]; then
        log "stopping the storage servers it started (scripts/servers.sh stop)"
        "$root/scripts/servers.sh" stop
    fi
    [ -z "$left" ] || die "could not stop:$left (state kept in $state)"
    rm -rf "$state"
    log "down"
}

# ------------------------------------------------------------------------------------------ status
status() {
    [ -d "$pids" ] || { echo "not up ($state does not exist)"; return 3; }
    local failures=0 file name pid
    for file in "$pids"/*.pid; do
        [ -f "$file" ] || continue
        name=$(basename "$file" .pid)
        pid=$(cat "$file")
        if ours "$pid"; then
            printf '%-14s pid %-8s running\n' "$name" "$pid"
        else
            printf '%-14s pid %-8s NOT RUNNING\n' "$name" "$pid"
            failures=$((failures + 1))
        fi
    done
    if [ -f "$state/env" ]; then
        local url
        # shellcheck disable=SC1091
        (
            . "$state/env"
            for url in "$VITRINE_1_URL/readyz" "$VITRINE_2_URL/readyz" "$PROMETHEUS_URL/-/ready" "$ALERTMANAGER_URL/-/ready"; do
                printf '%-50s %s\n' "$url" "$(http_code "$url")"
            done
            printf '%-50s %s\n' "$NGINX_HTTPS_URL/readyz" "$(http_code "$NGINX_HTTPS_URL/readyz" --cacert "$NGINX_CERT")"
            echo "storage servers: $LOCAL_STACK_SERVERS (.servers/env)"
        )
    else
        echo "no $state/env: up did not finish"
        failures=$((failures + 1))
    fi
    [ "$failures" -eq 0 ] || return 3
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: scripts/local-stack.sh up|status|down" >&2; exit 2 ;;
esac
