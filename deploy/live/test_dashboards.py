#!/usr/bin/env python3
"""Grafana's dashboards (deploy/grafana/dashboards/*.json) against the loopback stack's real
Prometheus: Grafana does not run here, so this test does what it would do. It drives traffic to
both replicas and runs an ingest whose /metrics Prometheus scrapes (`vitrine ingest
--metrics-address`), then substitutes the dashboards' variables as Grafana does ($instance and
$route from their label_values queries, "All" as Grafana's regex of every value; $__interval,
$__rate_interval and $__range from the test's time span and the 2 s scrape interval) and runs
every panel's query, and every variable's, through Prometheus's query API over the test's time
span. Every query must parse; every panel of the Vitrine service dashboard must return data (a
finite value) with all instances and routes selected, with each instance alone, and with one
route. The host (node-exporter) and containers (cAdvisor) dashboards only have to parse: no
exporter runs here, and their empty panels are reported, not failed.

    deploy/live/test_dashboards.py     (after scripts/local-stack.sh up; reads .local-stack/env)
"""

import glob
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
import zlib

import live

env = live.load_env()
checks = live.Checks("test_dashboards")
DASHBOARDS = os.path.join(live.REPO, "deploy", "grafana", "dashboards")
SERVICE = "vitrine-service.json"
RUN = uuid.uuid4().hex[:8]
# Metrics of `vitrine ingest --metrics-address`, served by the ingest process (job vitrine-ingest).
INGEST_SERIES = ("vitrine_ingest_running", "vitrine_ingest_items_total", "vitrine_ingest_errors_total")


def scrape_interval():
    try:
        with open(env["PROMETHEUS_CONFIG"], encoding="utf-8") as f:
            m = re.search(r"^\s*scrape_interval:\s*(\d+)s\s*$", f.read(), re.M)
        return int(m.group(1)) if m else 2
    except OSError:
        return 2


SCRAPE = scrape_interval()
t0 = time.time()


# ------------------------------------------------------------------------------------ traffic
def traffic(rounds=3):
    """Every kind of request a dashboard panel counts, to both replicas directly (nginx's rate
    limits are test_nginx's business), over a few scrape intervals."""
    first = live.get_json(env["VITRINE_1_URL"] + "/api/v1/search?q=shirt&k=10")["results"]
    ids = [r["id"] for r in first]
    image = first[0]["image"]
    photo = live.get(env["VITRINE_1_URL"] + image).body
    queries = ["red dress", "white sneakers", "leather bag", "summer shirt", "wool coat", "ankle boots", "denim"]
    counts = {}

    def hit(base, method, path, **kwargs):
        r = live.request(method, base + path, **kwargs)
        counts[r.status] = counts.get(r.status, 0) + 1
        return r

    for round_ in range(rounds):
        for n in (1, 2):
            base = env[f"VITRINE_{n}_URL"]
            # Concurrent text searches, so the text tower batches some of them.
            threads = [threading.Thread(target=hit, args=(base, "GET", f"/api/v1/search?q={urllib.parse.quote(q)}&k=10"))
                       for q in queries]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for product in ids[:3]:
                quoted = urllib.parse.quote(product)
                hit(base, "GET", f"/api/v1/products/{quoted}")
                hit(base, "GET", f"/api/v1/products/{quoted}/similar?k=5")
            hit(base, "POST", "/api/v1/search/image?k=5", body=photo, headers={"Content-Type": "image/png"})
            hit(base, "GET", image)
            hit(base, "GET", f"{image}?w={48 + 16 * round_ + n}")  # a new width: a thumbnail is made
            for path in ("/readyz", "/healthz", "/api/v1/categories", "/api/v1/markets", "/?q=dress",
                         "/api/v1/products/no-such-product-" + RUN):
                hit(base, "GET", path)
        time.sleep(SCRAPE + 0.5)
    return counts


# ------------------------------------------------------------------------------------ ingest
def png(width, height, rng):
    """A small RGB PNG of random colour blocks (stdlib zlib)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    blocks = [[bytes(rng.randrange(256) for _ in range(3)) for _ in range(8)] for _ in range(8)]
    rows = []
    for y in range(height):
        row = bytearray(b"\0")
        for x in range(width):
            row += blocks[y * 8 // height][x * 8 // width]
        rows.append(bytes(row))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b"")


def make_folder(root, count, seed):
    """`count` new products (never seen before: their photos are random) as a folder shop."""
    rng = random.Random(seed)
    categories = ["live-dresses", "live-shoes", "live-bags"]
    for i in range(count):
        category = categories[i % len(categories)]
        os.makedirs(os.path.join(root, category), exist_ok=True)
        stem = os.path.join(root, category, f"live-{seed}-{i:04d}")
        with open(stem + ".png", "wb") as f:
            f.write(png(64, 64, rng))
        with open(stem + ".json", "w", encoding="utf-8") as f:
            json.dump({"name": f"Live test product {i}", "description": f"made by test_dashboards run {seed}",
                       "market": "cz"}, f)


def ingest_flags():
    help_text = subprocess.run([env["VITRINE_BIN"], "ingest", "--help"], capture_output=True, text=True).stdout
    flags = []
    metrics = "--metrics-address" in help_text
    if metrics:
        flags += ["--metrics-address", env["INGEST_METRICS_ADDRESS"]]
    if "--log-format" in help_text:
        flags += ["--log-format", "json"]
    return flags, metrics


def ingest_scrapes(since):
    """Successful scrapes of the ingest's /metrics since `since` (epoch seconds)."""
    window = max(int(time.time() - since) + 1, 1)
    result = live.query(env, f'sum_over_time(up{{job="vitrine-ingest"}}[{window}s])')
    return int(float(result[0]["value"][1])) if result else 0


def run_ingest(workdir, count, flags):
    source = os.path.join(workdir, f"shop-{count}")
    make_folder(source, count, f"{RUN}-{count}")
    child_env = dict(os.environ)
    for key in ("VITRINE_CATALOG", "VITRINE_BLOBS", "VITRINE_VECTORS", "PGPASSWORD", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "MILVUS_TOKEN", "VITRINE_RESOURCES"):
        if env.get(key):
            child_env[key] = env[key]
    command = [env["VITRINE_BIN"], "ingest", source, "--data", os.path.join(workdir, "ingest-data"),
               "--model", env["VITRINE_MODEL"], "--json", *flags]
    started = time.time()
    with open(os.path.join(workdir, f"ingest-{count}.log"), "wb") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=child_env)
        seen_running = False
        while process.poll() is None:
            try:
                result = live.query(env, 'vitrine_ingest_running{job="vitrine-ingest"}')
                seen_running |= any(float(r["value"][1]) == 1 for r in result)
            except Exception:  # noqa: BLE001 (the ingest's outcome says more)
                pass
            time.sleep(0.5)
        out = process.stdout.read()
    seconds = time.time() - started
    report = json.loads(out) if out.strip() else {}
    time.sleep(SCRAPE + 0.5)  # the last scrape attempt of the run is in
    return process.returncode, report, seconds, ingest_scrapes(started), seen_running


def ingest():
    flags, metrics = ingest_flags()
    if not metrics:
        checks.ok(False, "this vitrine has no `ingest --metrics-address`: the ingest job cannot be scraped "
                         f"({env['VITRINE_BIN']}); running the ingest without it")
    workdir = tempfile.mkdtemp(prefix="test-dashboards-", dir=env["LOCAL_STACK_DIR"])
    try:
        for count in (150, 400):
            code, report, seconds, scrapes, seen_running = run_ingest(workdir, count, flags)
            checks.ok(code == 0 and report.get("ingested") == count,
                      f"ingest of {count} new products into the stack's stores: exit {code}, "
                      f"{report.get('ingested')} ingested in {seconds:.1f} s")
            if not metrics:
                return
            print(f"      Prometheus scraped the ingest {scrapes} time(s); vitrine_ingest_running == 1 seen: {seen_running}",
                  flush=True)
            if scrapes >= 2:
                checks.ok(seen_running, f"Prometheus scraped the running ingest {scrapes} times and saw vitrine_ingest_running == 1")
                return
        checks.ok(False, f"no ingest run lasted two scrapes ({SCRAPE} s apart) even at 400 products: "
                         "the ingest's panels cannot show a rate")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------------------------ Grafana
VAR_REF = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)\]\]")
REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")


def regex_escape(value):
    """Grafana's escaping of a multi-value or All variable inside a Prometheus regex matcher."""
    return REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def grafana_value(variable, selected):
    """The text Grafana puts in place of $variable: `selected` is a list of values or 'All'."""
    multi = variable.get("multi") or variable.get("includeAll")
    values = variable["_options"] if selected == "All" else selected
    if selected == "All" and variable.get("allValue"):
        return variable["allValue"]
    if not multi:
        return values[0] if values else ""
    escaped = [regex_escape(v) for v in values]
    if len(escaped) == 1:
        return escaped[0]
    return "(" + "|".join(escaped) + ")"


def interpolate(expr, substitutions, step, span):
    builtins = {
        "__interval": f"{step}s", "__interval_ms": str(step * 1000),
        # Grafana: max($__interval + scrape interval, 4 × scrape interval).
        "__rate_interval": f"{max(step + SCRAPE, 4 * SCRAPE)}s",
        "__range": f"{span}s", "__range_s": str(span), "__range_ms": str(span * 1000),
    }

    def replace(m):
        name = m.group(1) or m.group(3) or m.group(4)
        if name in builtins:
            return builtins[name]
        if name in substitutions:
            return substitutions[name]
        return m.group(0)

    return VAR_REF.sub(replace, expr)


def label_values(query, substitutions, start, end):
    m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query)
    if not m:
        raise ValueError(f"not a label_values(selector, label) query: {query}")
    selector = interpolate(m.group(1), substitutions, SCRAPE, int(end - start))
    data = live.prom(env, f"/api/v1/label/{m.group(2)}/values", **{"match[]": selector, "start": f"{start:.0f}",
                                                                      "end": f"{end:.0f}"})
    return sorted(data)


def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))


def finite_points(result):
    points = 0
    for series in result:
        for _, value in series.get("values") or [series.get("value")]:
            try:
                points += math.isfinite(float(value))
            except (TypeError, ValueError):
                pass
    return points


def missing_series(expr, start):
    """Metric names of `expr` that Prometheus has no series of at all."""
    missing = []
    for name in sorted(set(re.findall(r"(?<![\w:])(vitrine_[a-z0-9_]+|[a-z_]+:[a-z0-9_:]+)", expr))):
        found = live.prom(env, "/api/v1/series", **{"match[]": f'{{__name__="{name}"}}', "start": f"{start - 600:.0f}"})
        if not found:
            missing.append(name)
    return missing


def check_dashboard(path, start, end):
    file = os.path.basename(path)
    board = json.load(open(path, encoding="utf-8"))
    must_have_data = file == SERVICE
    span = int(end - start)
    variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
    substitutions = {}
    # Variables in order (a later one may use an earlier one, as $route uses $instance).
    for name, variable in variables.items():
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        try:
            variable["_options"] = label_values(query, substitutions, start, end)
        except live.PromError as error:
            checks.ok(False, f"{file} variable {name}: its query does not run: {error}")
            variable["_options"] = []
        default = "All" if variable.get("includeAll") else variable["_options"][:1]
        substitutions[name] = grafana_value(variable, default)
        if must_have_data:
            checks.ok(bool(variable["_options"]), f"{file} variable ${name}: {len(variable['_options'])} values "
                                                  f"({', '.join(variable['_options'][:8])})")
        else:
            checks.ok(True, f"{file} variable ${name} runs ({len(variable['_options'])} values)")

    scenarios = [("all selected", dict(substitutions))]
    if must_have_data:
        wanted = {env["VITRINE_1_ADDRESS"], env["VITRINE_2_ADDRESS"]}
        options = set(variables["instance"]["_options"])
        checks.ok(wanted <= options, "$instance offers both replicas"
                  + (f" (missing: {', '.join(sorted(wanted - options))})" if wanted - options else ""))
        for instance in sorted(wanted & options):
            s = dict(substitutions, instance=grafana_value(variables["instance"], [instance]))
            scenarios.append((f"instance {instance}", s))
        if "/api/v1/search" in variables["route"]["_options"]:
            scenarios.append(("route /api/v1/search", dict(substitutions, route=grafana_value(variables["route"], ["/api/v1/search"]))))
        else:
            checks.ok(False, "$route does not offer /api/v1/search after the searches")

    empty, total = [], 0
    for panel in walk(board.get("panels", [])):
        if panel.get("type") == "row":
            continue
        title = f"panel {panel.get('id')} \"{panel.get('title')}\""
        targets = [t for t in panel.get("targets") or [] if (t.get("expr") or "").strip()]
        if not targets:
            checks.ok(False, f"{file} {title}: no queries")
            continue
        problems, refused = [], False
        for scenario, subs in scenarios:
            for target in targets:
                expr = interpolate(target["expr"], subs, SCRAPE, span)
                total += 1
                try:
                    result = live.query_range(env, expr, start, end, SCRAPE)
                except live.PromError as error:
                    checks.ok(False, f"{file} {title} {target.get('refId')}: Prometheus refuses the query: {error}", [expr])
                    refused = True
                    continue
                if finite_points(result) == 0:
                    problems.append((scenario, target.get("refId"), target["expr"], expr))
        if refused:
            continue
        if not must_have_data:
            if problems:
                empty.append(title)
            continue
        if not problems:
            checks.ok(True, f"{file} {title}: data in every selection ({len(scenarios)})")
            continue
        details = []
        for expr in sorted({p[2] for p in problems}):
            missing = missing_series(expr, start)
            which = sorted({f"{p[0]} ({p[1]})" for p in problems if p[2] == expr})
            details.append(f"no data with {', '.join(which)}"
                           + (f": no series of {', '.join(missing)} in Prometheus at all" if missing else ""))
            details.append(f"  e.g. {next(p[3] for p in problems if p[2] == expr)}")
        checks.ok(False, f"{file} {title}: no data in {len({p[0] for p in problems})} of {len(scenarios)} selections", details)
    if not must_have_data:
        checks.ok(True, f"{file}: all {total} panel queries parse and run")
        if empty:
            checks.note(f"{file}: {len(empty)} panels without data here (no exporter is scraped on loopback): "
                        + ", ".join(empty))


# ------------------------------------------------------------------------------------ the test
print("-- traffic to both replicas", flush=True)
counts = traffic()
checks.ok(sum(counts.values()) > 0 and counts.get(200, 0) > 0, f"traffic driven: {dict(sorted(counts.items()))} by status")
print("-- an ingest, scraped while it runs", flush=True)
checks.run("ingest", ingest)
print("-- more traffic, then each dashboard's queries", flush=True)
traffic(rounds=2)
time.sleep(2 * SCRAPE + 1)
end = time.time()
start = t0 - 30
print(f"      range queries over the last {end - start:.0f} s, step {SCRAPE} s, $__rate_interval "
      f"{max(2 * SCRAPE, 4 * SCRAPE)} s", flush=True)
for path in sorted(glob.glob(os.path.join(DASHBOARDS, "*.json"))):
    print(f"-- {os.path.basename(path)}", flush=True)
    checks.run(os.path.basename(path), lambda: check_dashboard(path, start, end))
checks.exit()
