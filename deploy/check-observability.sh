#!/usr/bin/env bash
# Checks the observability configuration under deploy/ with the tools that run it:
#   Prometheus   promtool check config (compose file and the rendered loopback template),
#                promtool check rules, promtool test rules, plus a lint of the alerts (severity,
#                annotations, runbook anchors, a firing and a quiet test case for each alert)
#   Alertmanager amtool check-config (both templates, rendered as at start), the routing tree,
#                the Discord message templates rendered on sample data
#   Grafana      provisioning files and every dashboard: JSON, datasources, non-empty PromQL that
#                promtool parses, variables defined, Vitrine panels filtered by $instance/$route
#   Metric names every vitrine_* name in rules and dashboards is emitted by Sources/ or recorded
#                by a rule
#   Runbook      docs/operations.md has a section for every runbook_url anchor and documents
#                every metric (deploy/live/check_runbook.py)
# Installs Debian's prometheus and prometheus-alertmanager when promtool or amtool is missing.
# Prints one line per check; exits 1 when any check fails.
set -uo pipefail

deploy=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$deploy")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# check NAME COMMAND...: runs COMMAND, prints "ok NAME" or "FAIL NAME" and its output.
check() {
    local name=$1 output
    shift
    if output=$("$@" 2>&1); then
        printf 'ok    %s\n' "$name"
    else
        printf 'FAIL  %s\n' "$name"
        printf '%s\n' "$output" | sed 's/^/      /'
        failures=$((failures + 1))
    fi
}

install_tools() {
    command -v promtool >/dev/null && command -v amtool >/dev/null && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    # The packages start their daemons on installation; a policy-rc.d that refuses keeps this
    # check from leaving a Prometheus and an Alertmanager running (removed again afterwards).
    local policy=/usr/sbin/policy-rc.d placed=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod 755 "$policy" && placed=1
    fi
    "${sudo[@]}" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
            prometheus prometheus-alertmanager >/dev/null
    local status=$?
    [ "$placed" -eq 0 ] || "${sudo[@]}" rm -f "$policy"
    return $status
}

check "tools: install prometheus and prometheus-alertmanager if missing" install_tools
if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null; then
    echo "FAIL  promtool or amtool is still missing; nothing else can be checked"
    exit 1
fi
printf 'info  %s; %s\n' "$(promtool --version 2>&1 | head -n1)" "$(amtool --version 2>&1 | head -n1)"

# ---------------------------------------------------------------- Prometheus
prom=$deploy/prometheus

check "promtool check config prometheus/prometheus.yml" promtool check config "$prom/prometheus.yml"

render_prometheus_local() {
    sed -e "s|@VITRINE_1@|127.0.0.1:18081|g; s|@VITRINE_2@|127.0.0.1:18082|g; s|@INGEST@|127.0.0.1:18083|g" \
        -e "s|@MILVUS@|127.0.0.1:19091|g; s|@ALERTMANAGER@|127.0.0.1:19093|g; s|@PROMETHEUS@|127.0.0.1:19090|g" \
        -e "s|@RULES_DIR@|$prom/rules|g" "$prom/prometheus-local.yml.tmpl" >"$work/prometheus-local.yml" || return 1
    if grep -n '^[^#]*@[A-Z0-9_]*@' "$work/prometheus-local.yml"; then
        echo "placeholders left after rendering (add them to this check and to the template's header)"
        return 1
    fi
    promtool check config "$work/prometheus-local.yml"
}
check "promtool check config prometheus/prometheus-local.yml.tmpl (rendered with dummy ports)" render_prometheus_local

check "promtool check rules prometheus/rules/*.yml" promtool check rules "$prom"/rules/*.yml
check "promtool test rules prometheus/tests/*.yml" promtool test rules "$prom"/tests/*.yml

# ---------------------------------------------------------------- Alertmanager
am=$deploy/alertmanager
printf 'https://discord.invalid/api/webhooks/0/dummy-token\n' >"$work/discord-webhook-url"

render_alertmanager() {
    "$am/render-config.sh" "$am/alertmanager.yml.tmpl" "$work/discord-webhook-url" "$work/alertmanager.yml" || return 1
    # The container reads its templates from /etc/alertmanager/templates; here, from the repository.
    sed -i "s|/etc/alertmanager/templates/|$am/templates/|g" "$work/alertmanager.yml" &&
        amtool check-config "$work/alertmanager.yml"
}
check "amtool check-config alertmanager/alertmanager.yml.tmpl (rendered, dummy webhook URL file)" render_alertmanager

render_alertmanager_local() {
    "$am/render-config.sh" "$am/alertmanager-local.yml.tmpl" "$work/discord-webhook-url" "$work/alertmanager-local.yml" \
        "TEMPLATES_DIR=$am/templates" && amtool check-config "$work/alertmanager-local.yml"
}
check "amtool check-config alertmanager/alertmanager-local.yml.tmpl (rendered, dummy webhook URL file)" render_alertmanager_local

routes_go_where_they_should() {
    local config
    for config in "$work/alertmanager.yml" "$work/alertmanager-local.yml"; do
        [ -f "$config" ] || { echo "$config was not rendered"; return 1; }
        amtool config routes test --config.file="$config" --verify.receivers=discord-pages \
            severity=page alertname=VitrineReplicaDown instance=vitrine-1:8080 || return 1
        amtool config routes test --config.file="$config" --verify.receivers=discord-tickets \
            severity=ticket alertname=HostDiskAlmostFull instance=node-exporter:9100 || return 1
        amtool config routes test --config.file="$config" --verify.receivers=discord-tickets \
            alertname=SomethingWithoutSeverity || return 1
    done
}
check "amtool config routes test: page -> discord-pages, ticket and unlabelled -> discord-tickets" routes_go_where_they_should

render_discord_templates() {
    local out
    out=$(amtool template render --template.glob="$am/templates/*.tmpl" --template.data="$am/testdata/notification.json" \
        --template.text='{{ template "vitrine.discord.title" . }}|{{ template "vitrine.discord.message" . }}') || return 1
    printf '%s\n' "$out"
    case $out in
        "[FIRING:1] PAGE VitrineDependencyFailing on vitrine-1:8080 (postgresql)|"*"cannot reach its catalog store"*"Runbook: docs/operations.md#"*) ;;
        *) echo "unexpected rendering"; return 1 ;;
    esac
}
check "amtool template render alertmanager/templates/discord.tmpl on testdata/notification.json" render_discord_templates

# ---------------------------------------------------------------- the runbook
# Every runbook_url (and any other docs/operations.md#... link) names a heading of the runbook; its
# Metrics section names every vitrine_* series the rules, the dashboards and Sources/ have.
check "docs/operations.md: runbook anchors and the Metrics section (deploy/live/check_runbook.py)" \
    python3 "$deploy/live/check_runbook.py"

# ---------------------------------------------------------------- lints in Python (stdlib only)
python3 - "$repo" "$work" <<'PYTHON' || failures=$((failures + 1))
import glob, json, os, re, subprocess, sys

repo, work = sys.argv[1], sys.argv[2]
deploy = os.path.join(repo, "deploy")
failed = False

def report(ok, name, details=()):
    global failed
    print(("ok    " if ok else "FAIL  ") + name)
    for line in details:
        print("      " + line)
    failed |= not ok

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
NAME = re.compile(r"(?<![\w:])vitrine_[a-z0-9_]+\b")

# What Sources/ registers: names given as a metric's label or name.
emitted = set()
for path in glob.glob(os.path.join(repo, "Sources", "**", "*.swift"), recursive=True):
    with open(path, encoding="utf-8") as f:
        emitted.update(re.findall(r'(?:label|name):\s*"(vitrine_[a-z0-9_]+)"', f.read()))
report(bool(emitted), f"metric names registered in Sources/: {len(emitted)} ({', '.join(sorted(emitted))})")

def base_name(name):
    if name in emitted:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in emitted:
            return name[: -len(suffix)]
    return None

# ---------------------------------------------------------------- rules: structure
rules_dir = os.path.join(deploy, "prometheus", "rules")
recorded, alerts, rule_exprs = set(), {}, []
for path in sorted(glob.glob(os.path.join(rules_dir, "*.yml"))):
    lines = open(path, encoding="utf-8").read().splitlines()
    current = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^\s*- (alert|record):\s*(\S+)\s*$", line)
        if m:
            current = {"kind": m.group(1), "name": m.group(2), "file": os.path.basename(path), "text": []}
            if current["kind"] == "record":
                recorded.add(current["name"])
            else:
                alerts[current["name"]] = current
        if current is not None:
            current["text"].append(line)
        m = re.match(r"^(\s*)expr:\s*(.*)$", line)
        if m:
            indent, rest = len(m.group(1)), m.group(2).strip()
            if rest in ("|", ">", "|-", ">-"):
                body = []
                while i + 1 < len(lines) and (not lines[i + 1].strip() or len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent):
                    i += 1
                    body.append(lines[i])
                rest = "\n".join(body)
            rule_exprs.append((current["name"] if current else "?", os.path.basename(path), rest))
            if current is not None:
                current["expr"] = rest
        i += 1

problems = []
for name, alert in sorted(alerts.items()):
    text = "\n".join(alert["text"])
    severity = re.search(r"^\s*severity:\s*(\S+)\s*$", text, re.M)
    if not severity or severity.group(1) not in ("page", "ticket"):
        problems.append(f"{name}: severity label must be page or ticket")
    for key in ("summary", "description", "runbook_url"):
        if not re.search(rf"^\s*{key}:\s*\S", text, re.M):
            problems.append(f"{name}: annotation {key} missing")
    runbook = re.search(r'^\s*runbook_url:\s*"?([^"\s]+)"?\s*$', text, re.M)
    if runbook and runbook.group(1) != f"docs/operations.md#{name.lower()}":
        problems.append(f"{name}: runbook_url should be docs/operations.md#{name.lower()}, not {runbook.group(1)}")
report(not problems and bool(alerts),
       f"alert rules: {len(alerts)} alerts, each with severity page|ticket, summary, description and runbook_url docs/operations.md#<alertname>",
       problems)

# ---------------------------------------------------------------- rules: tests cover every alert both ways
fires, quiet = set(), set()
for path in glob.glob(os.path.join(deploy, "prometheus", "tests", "*.yml")):
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"alertname:\s*(\S+)\s*\n\s*exp_alerts:[ \t]*(\[\])?", text):
        (quiet if m.group(2) else fires).add(m.group(1))
problems = [f"{name}: no test case where it fires" for name in sorted(alerts) if name not in fires]
problems += [f"{name}: no test case where it stays quiet" for name in sorted(alerts) if name not in quiet]
problems += [f"{name}: tested but not defined" for name in sorted((fires | quiet) - set(alerts))]
report(not problems, "rule tests: every alert has a case where it fires and one where it does not", problems)

# ---------------------------------------------------------------- metric names in rules
problems = []
for rule, file, expr in rule_exprs:
    for name in NAME.findall(expr):
        if base_name(name) is None:
            problems.append(f"{file} {rule}: {name} is not registered in Sources/")
report(not problems, "rules reference only metrics Vitrine registers", problems)

# ---------------------------------------------------------------- Grafana provisioning
grafana = os.path.join(deploy, "grafana")
ds_text = open(os.path.join(grafana, "provisioning", "datasources", "prometheus.yml"), encoding="utf-8").read()
ds_uid = re.search(r"^\s*uid:\s*(\S+)\s*$", ds_text, re.M)
ds_uid = ds_uid.group(1) if ds_uid else None
prov_text = open(os.path.join(grafana, "provisioning", "dashboards", "vitrine.yml"), encoding="utf-8").read()
problems = []
if not ds_uid:
    problems.append("the datasource has no uid for the dashboards to name")
if not re.search(r"^\s*type:\s*prometheus\s*$", ds_text, re.M):
    problems.append("the datasource is not of type prometheus")
if not re.search(r"^\s*path:\s*/\S+", prov_text, re.M):
    problems.append("the dashboard provider has no absolute options.path")
report(not problems, f"grafana provisioning: datasource uid {ds_uid}, dashboard provider with a path", problems)

# ---------------------------------------------------------------- dashboards
BUILTIN_VARS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms",
                "__from", "__to", "__name", "__auto", "__dashboard", "__org", "__user", "__all"}
VAR_REF = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
REQUIRED_VARS = {"vitrine-service.json": {"instance", "route"}, "vitrine-host.json": {"instance"},
                 "vitrine-containers.json": {"container"}}
SERVER_METRIC_EXEMPT = ("vitrine_ingest_",)  # served by the ingest process, not by a replica

def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))

def promql_for_check(expr):
    expr = expr.replace("$__rate_interval", "1m").replace("${__rate_interval}", "1m")
    expr = expr.replace("$__interval", "1m").replace("${__interval}", "1m")
    expr = expr.replace("$__range", "1h").replace("${__range}", "1h")
    return VAR_REF.sub(".*", expr)

groups, uids = [], set()
for path in sorted(glob.glob(os.path.join(grafana, "dashboards", "*.json"))):
    file = os.path.basename(path)
    problems = []
    try:
        board = json.load(open(path, encoding="utf-8"))
    except ValueError as error:
        report(False, f"dashboard {file}: JSON", [str(error)])
        continue
    if board.get("uid") in uids:
        problems.append(f"uid {board.get('uid')} used by two dashboards")
    uids.add(board.get("uid"))
    variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
    for name in sorted(REQUIRED_VARS.get(file, set()) - set(variables)):
        problems.append(f"variable {name} is not defined")
    for name, v in variables.items():
        query = v.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query or "")
        if v.get("type") != "query" or not m:
            problems.append(f"variable {name}: not a label_values(selector, label) query")
            continue
        if (v.get("datasource") or {}).get("uid") != ds_uid:
            problems.append(f"variable {name}: datasource uid is not {ds_uid}")
        groups.append({"name": f"{file} variable {name}",
                       "rules": [{"record": "dashboard_check:variable", "expr": promql_for_check(m.group(1))}]})
    panel_ids = set()
    for p in walk(board.get("panels", [])):
        if p.get("type") == "row":
            continue
        title = f"panel {p.get('id')} \"{p.get('title')}\""
        if p.get("id") in panel_ids:
            problems.append(f"{title}: id used twice")
        panel_ids.add(p.get("id"))
        if (p.get("datasource") or {}).get("uid") != ds_uid:
            problems.append(f"{title}: datasource uid is not {ds_uid}")
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"{title}: no targets")
        for t in targets:
            expr = (t.get("expr") or "").strip()
            where = f"{title} {t.get('refId')}"
            if not expr:
                problems.append(f"{where}: empty expr")
                continue
            if "datasource" in t and (t["datasource"] or {}).get("uid") != ds_uid:
                problems.append(f"{where}: target datasource uid is not {ds_uid}")
            for groups_ in VAR_REF.findall(expr):
                var = next(g for g in groups_ if g)
                if var not in variables and var not in BUILTIN_VARS:
                    problems.append(f"{where}: ${var} is not a variable of the dashboard")
            for name in NAME.findall(expr):
                if base_name(name) is None:
                    problems.append(f"{where}: {name} is not registered in Sources/")
            for name in re.findall(r"\b[a-zA-Z_]\w*:[\w:]+", expr):
                if name not in recorded:
                    problems.append(f"{where}: {name} is not recorded by any rule")
            serves = [n for n in NAME.findall(expr) if not n.startswith(SERVER_METRIC_EXEMPT)]
            if file == "vitrine-service.json" and serves and "$instance" not in expr:
                problems.append(f"{where}: a replica metric without the $instance filter")
            if (file == "vitrine-service.json" and any(n.startswith("vitrine_http_") for n in serves)
                    and "$route" not in expr and not re.search(r'route="[^"]+"', expr)):
                problems.append(f"{where}: an HTTP metric neither filtered by $route nor about one fixed route")
            groups.append({"name": f"{file} {title} {t.get('refId')}",
                           "rules": [{"record": "dashboard_check:target", "expr": promql_for_check(expr)}]})
    report(not problems,
           f"dashboard {file}: {len(panel_ids)} panels, variables {', '.join(sorted(variables))}",
           problems)

# Every panel's and variable's PromQL through Prometheus's own parser (JSON is YAML).
rules_file = os.path.join(work, "dashboard-promql.yml")
with open(rules_file, "w", encoding="utf-8") as f:
    json.dump({"groups": groups}, f, indent=1)
result = subprocess.run(["promtool", "check", "rules", rules_file], capture_output=True, text=True)
report(result.returncode == 0, f"dashboard PromQL parses (promtool check rules on {len(groups)} expressions)",
       (result.stdout + result.stderr).strip().splitlines() if result.returncode else ())

sys.exit(1 if failed else 0)
PYTHON

if [ "$failures" -eq 0 ]; then
    echo "observability checks passed"
else
    echo "observability checks failed: see the FAIL lines above"
    exit 1
fi
