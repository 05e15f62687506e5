"""Live test of the log path to Elasticsearch: real `vitrine serve` replicas and a real
`vitrine ingest --log-format json` write their ECS JSON lines, a real shipper (Debian's rsyslog:
imfile + mmjsonparse + omelasticsearch, configured by deploy/rsyslog/) tails the files and sends
them in bulk to a local stand-in for Elasticsearch's `_bulk` API (deploy/live/es_sink.py; no
Elasticsearch runs here), which checks each document against the index template as Elasticsearch
would. Then:

  1. every request the test sent (searches, a 404, 400s, a 405, writes with a right and a wrong
     API key, each with its own x-request-id) arrives exactly once as a document with the ECS
     fields and the right types and values: @timestamp (ISO 8601, UTC, milliseconds), log.level,
     message "request", service.name, event.dataset, http.request.id (the id the client got back),
     http.request.method, url.path, vitrine.route, http.response.status_code (a number equal to
     the status the client got), event.duration (nanoseconds, > 0), error.code and error.message
     on error answers (the code the client got), service.node.name (the replica);
  2. the ingest run's lines arrive: one "batch committed" per batch (numbered 1…n, with counts
     and the data generation) and one "ingest finished" whose totals add the batches up;
  3. no document holds a secret: the stack's passwords, tokens and API keys, the keys the test
     sent, the shipper's own password (every value, nested ones included, and the raw bodies);
  4. every field of every document is mapped in deploy/elasticsearch/index-template.json (dotted
     keys resolved through the template's nested properties) with a type its values fit (numbers
     long/float, @timestamp date, strings keyword/text), and no document was refused;
  5. the fields the Kibana saved searches show or query (deploy/kibana/saved-search.ndjson) are
     mapped too.

Where the replicas come from:
  - the loopback stack's settings (.local-stack/env, or LOCAL_STACK_ENV; the variables already in
    the environment win): VITRINE_1_URL/VITRINE_1_LOG, VITRINE_2_URL/VITRINE_2_LOG, VITRINE_BIN,
    and the stores' credentials (scanned for);
  - with --standalone, or when there are no such settings: the test ingests a few fixture photos
    with the tiny test model into a temporary data directory and starts one `vitrine serve` on it.

  python3 deploy/live/test_logs.py [--standalone] [--vitrine PATH] [--requests N] [--timeout S] [--keep]

Needs rsyslogd with omelasticsearch (Debian's rsyslog and rsyslog-elasticsearch;
scripts/install-deps.sh installs them). Leaves nothing running; keeps the rendered rsyslog
configuration, the received documents and the logs in .ci/artifacts/logs/. Stdlib only.
"""

import argparse
import base64
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import es_sink  # noqa: E402
import live  # noqa: E402

REPO = live.REPO
TEMPLATE = os.path.join(REPO, "deploy", "elasticsearch", "index-template.json")
ILM_POLICY = os.path.join(REPO, "deploy", "elasticsearch", "ilm-policy.json")
SAVED_SEARCHES = os.path.join(REPO, "deploy", "kibana", "saved-search.ndjson")
RSYSLOG_CONF = os.path.join(REPO, "deploy", "rsyslog", "vitrine-elasticsearch.conf.tmpl")
TINY_MODEL = os.path.join(REPO, "Tests", "Fixtures", "models", "tiny-clip-p32")
PHOTOS = os.path.join(REPO, "Tests", "Fixtures", "images")
ARTIFACTS = os.path.join(REPO, ".ci", "artifacts", "logs")

LEVELS = {"trace", "debug", "info", "notice", "warning", "error", "critical"}
ECS_VERSION = "8.11.0"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
# Keys of the log format before ECS: their presence means the binary predates the change.
OLD_FORMAT_KEYS = {"ts", "level", "label", "request_id", "duration_ms"}
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|ACCESS_KEY|CREDENTIAL|PRIVATE", re.I)
ES_USER = "vitrine_logs_writer"
# The stores' credentials under the names vitrine reads (README, "Storage backends").
STORE_CREDENTIALS = {"PGPASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "MILVUS_TOKEN",
                     "MILVUS_PASSWORD"}

# The test's photo shop: category folder / file name -> fixture photo.
SHOP = {
    "shoes/runner.jpg": "baseline.jpg",
    "shoes/boot.jpg": "cmyk.jpg",
    "shoes/sandal.png": "rgb.png",
    "bags/tote.webp": "lossy.webp",
    "bags/clutch.png": "palette.png",
}


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------- setting up
def find_binary(explicit, env):
    """The vitrine binary, copied (with its resources folder) into `work`: the build that made it
    may replace it while the test runs."""
    candidates = [explicit, env.get("VITRINE_BIN"), os.path.join(REPO, ".build", "debug", "vitrine"),
                  os.path.join(REPO, ".build", "release", "vitrine")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise SystemExit("no vitrine binary: build it (swift build --product vitrine) or pass --vitrine PATH")


def copy_binary(path, work, env):
    """Copies the binary and the web UI's resources folder (VITRINE_RESOURCES, or the one the build
    puts beside it) into `work`/bin, where `vitrine serve` finds them."""
    target = os.path.join(work, "bin", "vitrine")
    os.makedirs(os.path.dirname(target))
    shutil.copy2(path, target)
    for resources in (env.get("VITRINE_RESOURCES"), os.environ.get("VITRINE_RESOURCES"), path + ".resources",
                      os.path.join(os.path.dirname(path), "Vitrine_VitrineServer.resources")):
        if resources and os.path.isdir(resources):
            shutil.copytree(resources, os.path.join(os.path.dirname(target), "Vitrine_VitrineServer.resources"))
            break
    return target


def clean_env(**extra):
    """An environment for the test's own vitrine processes: none of the stack's store settings or
    credentials (they would point the ingest at the stack's stores), offline: the text index's
    sentence model is the test command's (a local directory), or none (the hub's default is offline)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")}
    return {**keep, "HF_HUB_OFFLINE": "1", "VITRINE_TEXT_EMBEDDER": os.environ.get("VITRINE_TEXT_EMBEDDER") or "none", **extra}


def build_shop(directory):
    for path, photo in SHOP.items():
        target = os.path.join(directory, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(PHOTOS, photo), target)
    return directory


def run_ingest(argv, log_path, required):
    """Runs `vitrine ingest`, its stderr appended to `log_path`. Returns None, or what went wrong
    (the exit status and the crash's or error's lines); raises SystemExit with it when `required`."""
    with open(log_path, "ab") as log:
        start = log.tell()
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=clean_env(), timeout=300)
    if result.returncode in (0, 3):
        return None
    with open(log_path, "rb") as f:
        f.seek(start)
        lines = [line for line in f.read().decode("utf-8", errors="replace").splitlines() if line.strip()]
    headline = [line for line in lines if "Program crashed" in line]
    thread = [i for i, line in enumerate(lines) if line.rstrip().endswith("crashed:")]
    shown = headline + lines[thread[0]:thread[0] + 3] if thread else lines[-5:]
    how = f"signal {-result.returncode}" if result.returncode < 0 else f"exit {result.returncode}"
    problem = f"vitrine ingest ({' '.join(argv[1:3])} ...) failed with {how}:\n" + "\n".join(line[:200] for line in shown)
    if required:
        raise SystemExit(problem)
    return problem


def supports(vitrine, command, flag):
    result = subprocess.run([vitrine, command, "--help"], capture_output=True, text=True, env=clean_env())
    return flag in result.stdout + result.stderr


class Process:
    """A child process of the test, stopped by its pid (SIGTERM, then SIGKILL) at the end."""

    def __init__(self, name, argv, stderr_path, env, stdout_path=None):
        self.name = name
        self.stderr = open(stderr_path, "ab")
        self.stdout = open(stdout_path, "ab") if stdout_path else subprocess.DEVNULL
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=self.stderr,
                                        env=env, start_new_session=True)

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None

    def stop(self, timeout=20):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.stderr.close()
        if self.stdout is not subprocess.DEVNULL:
            self.stdout.close()


def start_serve(vitrine, data, log_path, api_key):
    """One `vitrine serve` on a free port; its URL is read from its "serving" line."""
    serve = Process("vitrine serve", [vitrine, "serve", "--data", data, "--host", "127.0.0.1", "--port", "0"],
                    log_path, clean_env(VITRINE_API_KEYS=api_key))
    url_key = re.compile(r'"url(?:\.full)?"\s*:\s*"(http://[^"]+)"')

    def started():
        if not serve.alive():
            with open(log_path, encoding="utf-8", errors="replace") as f:
                tail = f.read().strip().splitlines()[-3:]
            raise SystemExit(f"vitrine serve exited with {serve.process.returncode}: {' / '.join(tail)[:600]}")
        with open(log_path, encoding="utf-8", errors="replace") as f:
            match = url_key.search(f.read())
        return match.group(1).rstrip("/") if match else None

    url = live.wait_for("vitrine serve to log its URL", started, 60, 0.1)
    live.wait_for(f"{url}/readyz to answer 200", lambda: live.get(url + "/readyz", timeout=5).status == 200, 60, 0.2)
    return serve, url


def render_rsyslog(work, sink_url, inputs):
    """deploy/rsyslog's template with this run's paths; `inputs` is [(file, tag, ruleset)]."""
    with open(RSYSLOG_CONF, encoding="utf-8") as f:
        lines = f.read().splitlines()
    rendered = []
    for line in lines:
        if line.strip() == "@INPUTS@":
            for path, tag, ruleset in inputs:
                rendered.append(f'input(type="imfile" File="{path}" Tag="{tag}" ruleset="{ruleset}")')
            continue
        rendered.append(line.replace("@WORK_DIR@", work).replace("@ES_SERVER@", sink_url).replace("@ES_USER@", ES_USER))
    text = "\n".join(rendered) + "\n"
    left = [line for line in text.splitlines() if not line.lstrip().startswith("#") and re.search(r"@[A-Z_]+@", line)]
    if left:
        raise RuntimeError(f"placeholders left in the rendered rsyslog configuration: {left}")
    path = os.path.join(work, "rsyslog.conf")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def rsyslogd_binary():
    for path in (shutil.which("rsyslogd"), "/usr/sbin/rsyslogd", "/sbin/rsyslogd"):
        if path and os.access(path, os.X_OK):
            return path
    raise SystemExit("rsyslogd is not installed: scripts/install-deps.sh installs rsyslog and rsyslog-elasticsearch")


# ---------------------------------------------------------------------------------------- requests
def plan_requests(count, api_key):
    """(method, path, headers, body, note) cycling through the kinds of answers a replica gives."""
    wrong_key = "wrong-" + secrets.token_hex(16)
    boundary = "vitrinelogtest"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"product\"\r\nContent-Type: application/json\r\n\r\n"
            f"{{\"id\": \"log-test\", \"name\": \"x\"}}\r\n--{boundary}--\r\n").encode()
    kinds = [
        ("GET", "/api/v1/search?q=red+runner", {}, None, "text search"),
        ("GET", "/api/v1/search?q=leather%20boot&k=3", {}, None, "text search with k"),
        ("GET", "/api/v1/products/no-such-product-" + secrets.token_hex(4), {}, None, "unknown product: 404"),
        ("GET", "/api/v1/search?q=bag&k=abc", {}, None, "k not a number: 400"),
        ("GET", "/api/v1/search?q=a&q=b", {}, None, "q given twice: 400"),
        ("GET", "/api/v1/categories", {}, None, "facets"),
        ("DELETE", "/api/v1/products/no-such-product", {"Authorization": f"Bearer {wrong_key}"}, None, "write with a wrong API key"),
        ("GET", "/api/v1/search?q=" + urllib.parse.quote("été rouge ✓"), {}, None, "text search, non-ASCII"),
        ("PUT", "/api/v1/search", {"Content-Type": "application/json"}, b"{}", "method not allowed: 405"),
        ("GET", "/healthz", {}, None, "liveness"),
        ("DELETE", "/api/v1/products/no-such-product-" + secrets.token_hex(4), {"Authorization": f"Bearer {api_key}"}, None,
         "write with the right API key, unknown product"),
        ("GET", "/no/such/route", {}, None, "unknown route: 404"),
        ("POST", "/api/v1/products", {"Authorization": f"Bearer {wrong_key}",
                                      "Content-Type": f"multipart/form-data; boundary={boundary}"}, body,
         "create with a wrong API key"),
        ("GET", "/api/v1/markets", {}, None, "facets"),
        ("GET", "/readyz", {}, None, "readiness"),
    ]
    return [kinds[i % len(kinds)] for i in range(count)], [wrong_key]


def send_requests(replicas, count, api_key, run_id):
    """Sends `count` requests over the replicas in turn, each with its own x-request-id (and one
    with an id the server must replace). Returns the records and the secrets sent."""
    plan, sent_secrets = plan_requests(count, api_key)
    records = []
    for number, (method, path, headers, body, note) in enumerate(plan):
        node, url, _ = replicas[number % len(replicas)]
        # The last request's id is not plain (a space): the server makes one and returns it.
        request_id = f"logtest-{run_id}-{number:03d}" if number < count - 1 else f"not plain {run_id}"
        sent = time.time()
        try:
            response = live.request(method, url + path, body=body, headers={**headers, "x-request-id": request_id}, timeout=30)
        except OSError as error:
            raise SystemExit(f"{node} ({url}) did not answer {method} {path}: {error}") from None
        error_code = None
        if response.status >= 400:
            try:
                error_code = response.json().get("error", {}).get("code")
            except (ValueError, AttributeError):
                error_code = None
        records.append({"node": node, "method": method, "path": urllib.parse.urlsplit(path).path, "target": path,
                        "note": note, "sent_id": request_id, "id": response.header("x-request-id"),
                        "status": response.status, "error_code": error_code, "sent": sent, "answered": time.time()})
    return records, sent_secrets


# ---------------------------------------------------------------------------------------- checks
def old_format(sink):
    """The documents (accepted or refused) that carry keys of the log format before ECS."""
    sources = [d["source"] for d in sink.documents()]
    with sink.state.lock:
        refused = [e.get("source", "") for e in sink.state.item_errors]
    for text in refused:
        try:
            sources.append(json.loads(text))
        except ValueError:
            pass
    return [d for d in sources if isinstance(d, dict) and OLD_FORMAT_KEYS & set(d)]


def parse_timestamp(value):
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def check_request_document(record, doc):
    """Problems of the document of one request, as strings."""
    problems = []

    def expect(key, condition, wanted):
        if key not in doc:
            problems.append(f"{key} missing (wanted {wanted})")
        elif not condition(doc[key]):
            problems.append(f"{key} = {doc[key]!r} (wanted {wanted})")

    expect("@timestamp", lambda v: isinstance(v, str) and TIMESTAMP.match(v)
           and record["sent"] - 5 <= parse_timestamp(v) <= record["answered"] + 5,
           "ISO 8601 UTC with milliseconds, when the request was made")
    expect("log.level", lambda v: v in LEVELS, f"one of {sorted(LEVELS)}")
    expect("log.logger", lambda v: isinstance(v, str) and v, "the logger's label")
    expect("message", lambda v: v == "request", '"request"')
    expect("ecs.version", lambda v: v == ECS_VERSION, ECS_VERSION)
    expect("service.name", lambda v: v == "vitrine", '"vitrine"')
    expect("event.dataset", lambda v: v == "vitrine.serve", '"vitrine.serve"')
    expect("process.pid", lambda v: is_int(v) and v > 0, "a positive integer")
    expect("http.request.id", lambda v: v == record["id"], f"{record['id']!r}, the x-request-id the client got")
    expect("http.request.method", lambda v: v == record["method"], record["method"])
    expect("url.path", lambda v: v == record["path"], record["path"])
    expect("vitrine.route", lambda v: isinstance(v, str) and (v.startswith("/") or v == "NotFound"), "the route's pattern")
    expect("http.response.status_code", lambda v: is_int(v) and v == record["status"],
           f"the number {record['status']}, the status the client got")
    expect("event.duration", lambda v: is_int(v) and v > 0, "nanoseconds, an integer > 0")
    expect("service.node.name", lambda v: v == record["node"], f"{record['node']!r} (set by the shipper)")
    if record["status"] >= 400:
        expect("error.message", lambda v: isinstance(v, str) and v, "the error's message")
        if record["error_code"]:
            expect("error.code", lambda v: v == record["error_code"], f"{record['error_code']!r}, the code the client got")
    if record["path"] == "/api/v1/search" and record["method"] == "GET":
        expect("vitrine.route", lambda v: v == "/api/v1/search", "/api/v1/search")
    if record["path"].startswith("/api/v1/products/") and record["method"] == "GET":
        expect("vitrine.route", lambda v: v == "/api/v1/products/{id}", "/api/v1/products/{id}")
    return problems


def check_mapping(documents, template):
    """Every leaf of every document against the template's properties: (problems, fields seen)."""
    properties = template.get("template", {}).get("mappings", {}).get("properties", {})
    problems, seen = {}, {}
    for record in documents:
        doc = record["source"]
        for path, value in es_sink.leaves(doc):
            if value is None:
                continue
            seen.setdefault(path, set()).add(type(value).__name__)
            kind, mapping = es_sink.resolve(properties, path)
            where = f"{doc.get('service.node.name', '?')}: {str(doc.get('message', ''))[:60]!r}"
            if kind is None:
                problems.setdefault(f"{path}: not mapped ({type(value).__name__} value)", where)
                continue
            if kind == "leaf-prefix":
                problems.setdefault(f"{path}: {mapping} is mapped as a field, so {path} cannot be an object path", where)
                continue
            if kind == "object":
                problems.setdefault(f"{path}: mapped as an object, but the document has a value there", where)
                continue
            mapped = mapping.get("type", "object")
            if is_int(value):
                fits = mapped in es_sink.NUMERIC
            elif isinstance(value, float):
                fits = mapped in es_sink.NUMERIC - es_sink.INTEGRAL
            elif isinstance(value, bool):
                fits = mapped == "boolean"
            elif isinstance(value, str):
                if mapped == "date":
                    try:
                        es_sink.parse_date(value)
                        fits = True
                    except es_sink.MappingError:
                        fits = False
                else:
                    fits = mapped in es_sink.STRINGY
            else:
                fits = False
            if not fits:
                problems.setdefault(f"{path}: a {type(value).__name__} value ({value!r:.60}) in a field mapped as {mapped}", where)
    kind, mapping = es_sink.resolve(properties, "@timestamp")
    if kind != "field" or mapping.get("type") != "date":
        problems.setdefault("@timestamp: not mapped as date", "the template")
    return [f"{problem}  [e.g. {where}]" for problem, where in sorted(problems.items())], seen


def template_fields(properties, prefix=""):
    for name, mapping in properties.items():
        if "properties" in mapping:
            yield from template_fields(mapping["properties"], f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", mapping.get("type")


def kql_fields(query):
    """Field names a KQL query tests (`name : value`, `name >= value`)."""
    return set(re.findall(r"([A-Za-z_@][\w.@]*)\s*(?::|>=|<=|>|<)", query))


def secrets_to_find(env, extra):
    """(name, value) of every secret the documents must not hold."""
    found = []
    for key, value in sorted(env.items()):
        if not value or key.startswith("_") or not SECRET_NAME.search(key):
            continue
        # The whole value, and its parts: each of a list of API keys, the password of user:password.
        if len(value) >= 6:
            found.append((key, value))
        parts = value.split(",") if "API_KEYS" in key else []
        if ":" in value and "TOKEN" in key:
            parts.append(value.split(":", 1)[1])
        found += [(key, part.strip()) for part in parts if len(part.strip()) >= 8 and part.strip() != value]
    found += extra
    return found


def scan_secrets(documents, bodies, candidates):
    problems = []
    for name, value in candidates:
        for record in documents:
            hits = [path for path, v in es_sink.leaves(record["source"]) if isinstance(v, str) and value in v]
            if hits:
                problems.append(f"the value of {name} appears in {hits[0]} of a document from "
                                f"{record['source'].get('service.node.name', '?')} ({record['source'].get('message', '')!r:.60})")
                break
        else:
            if any(value.encode() in body for body in bodies):
                problems.append(f"the value of {name} appears in a bulk request body")
    for record in documents:
        for path, v in es_sink.leaves(record["source"]):
            lowered = path.lower()
            if any(word in lowered for word in ("authorization", "password", "api_key", "apikey", "secret")):
                problems.append(f"a document has a field named {path}")
            if isinstance(v, str) and re.search(r"\bBearer\s+\S", v):
                problems.append(f"{path} holds a bearer credential: {v[:40]!r}...")
    return sorted(set(problems))


# ---------------------------------------------------------------------------------------- the test
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--standalone", action="store_true", help="start a vitrine serve of its own, ignoring .local-stack/env")
    parser.add_argument("--vitrine", help="the vitrine binary (default: VITRINE_BIN, then .build/debug/vitrine)")
    parser.add_argument("--requests", type=int, default=30, help="requests to send (default 30)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the documents (default 60)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    checks = live.Checks("test_logs")
    env = {}
    if not args.standalone:
        path = live.env_path()
        if os.path.exists(path):
            env = live.load_env(path)
        env.update({k: v for k, v in os.environ.items() if k.startswith(("VITRINE_", "LOCAL_STACK", "INGEST_"))
                    or k in STORE_CREDENTIALS})
    standalone = args.standalone or not env.get("VITRINE_1_URL")

    work = tempfile.mkdtemp(prefix="vitrine-logs-")
    os.makedirs(os.path.join(work, "logs"))
    os.makedirs(os.path.join(work, "rsyslog"))
    run_id = secrets.token_hex(4)
    processes = []
    sink = None
    try:
        vitrine = copy_binary(find_binary(args.vitrine, env), work, env)
        api_key = env.get("LOCAL_STACK_API_KEY") or (env.get("VITRINE_API_KEYS") or "").split(",")[0] or "key-" + secrets.token_hex(20)
        es_password = "es-" + secrets.token_hex(16)
        extra_secrets = [("the API key", api_key), ("the shipper's Elasticsearch password", es_password)]

        # The ingest run whose JSON lines are shipped (into a data directory of its own, never the
        # stack's stores); standalone, the replica serves what it ingested.
        shop = build_shop(os.path.join(work, "shop"))
        data = os.path.join(work, "data")
        ingest_log = os.path.join(work, "logs", "ingest.log")
        json_ingest = supports(vitrine, "ingest", "--log-format")
        ingest_argv = [vitrine, "ingest", shop, "--data", data, "--model", TINY_MODEL, "--batch-size", "2"]
        if json_ingest:
            ingest_argv += ["--log-format", "json"]

        if standalone:
            print(f"info  standalone: one vitrine serve of the test's own ({vitrine})", flush=True)
            run_ingest(ingest_argv, ingest_log, required=True)
            serve_log = os.path.join(work, "logs", "vitrine-1.log")
            serve, url = start_serve(vitrine, data, serve_log, api_key)
            processes.append(serve)
            replicas = [("vitrine-1", url, serve_log)]
        else:
            print(f"info  the loopback stack of {env.get('_PATH', 'the environment')}", flush=True)
            replicas = []
            n = 1
            while env.get(f"VITRINE_{n}_URL"):
                log_path = env.get(f"VITRINE_{n}_LOG")
                if not log_path or not os.path.exists(log_path):
                    raise SystemExit(f"VITRINE_{n}_LOG ({log_path}) is not a file: the stack must write each replica's stderr to it")
                replicas.append((f"vitrine-{n}", env[f"VITRINE_{n}_URL"].rstrip("/"), log_path))
                n += 1
            for node, url, _ in replicas:
                status = live.get(url + "/healthz", timeout=5).status
                if status != 200:
                    raise SystemExit(f"{node} at {url} answers /healthz with {status}: is the stack up (make up-local)?")

        # The stand-in for Elasticsearch, set up as deploy/elasticsearch/setup.sh sets up the real one.
        sink = es_sink.Sink(0, ES_USER, es_password).__enter__()
        auth = {"Authorization": "Basic " + base64.b64encode(f"{ES_USER}:{es_password}".encode()).decode(),
                "Content-Type": "application/json"}
        for what, path, file in (("ILM policy", "/_ilm/policy/vitrine-logs", ILM_POLICY),
                                 ("index template", "/_index_template/vitrine-logs", TEMPLATE)):
            with open(file, "rb") as f:
                response = live.request("PUT", sink.url + path, body=f.read(), headers=auth)
            checks.ok(response.status == 200, f"the sink accepts the {what} ({os.path.relpath(file, REPO)}): {response.status}",
                      () if response.status == 200 else [response.body[:300]])

        # The shipper: rsyslogd, unprivileged, with its own configuration, work directory and pid file.
        inputs = [(log_path, node, "vitrine_serve") for node, _, log_path in replicas]
        inputs.append((ingest_log, "ingest", "vitrine_ingest"))
        if not standalone and env.get("INGEST_LOG") and os.path.exists(env["INGEST_LOG"]):
            inputs.append((env["INGEST_LOG"], "stack-ingest", "vitrine_ingest"))
        rsyslog_work = os.path.join(work, "rsyslog")
        conf = render_rsyslog(rsyslog_work, sink.url, inputs)
        rsyslogd = rsyslogd_binary()
        rsyslog_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RSYSLOG_ES_PASSWORD": es_password}
        validation = subprocess.run([rsyslogd, "-N1", "-f", conf], capture_output=True, text=True, env=rsyslog_env)
        checks.ok(validation.returncode == 0 and "error" not in validation.stderr.lower(),
                  f"rsyslogd -N1 accepts deploy/rsyslog/vitrine-elasticsearch.conf.tmpl (rendered with {len(inputs)} inputs)",
                  validation.stderr.strip().splitlines()[-8:])
        shipper = Process("rsyslogd", [rsyslogd, "-n", "-f", conf, "-i", os.path.join(rsyslog_work, "rsyslogd.pid")],
                          os.path.join(work, "logs", "rsyslogd.log"), rsyslog_env)
        processes.append(shipper)
        time.sleep(1)
        if not shipper.alive():
            raise SystemExit(f"rsyslogd exited at once: {open(os.path.join(work, 'logs', 'rsyslogd.log')).read()[-2000:]}")

        if not standalone:
            problem = run_ingest(ingest_argv, ingest_log, required=False)
            checks.ok(problem is None, f"vitrine ingest of {len(SHOP)} fixture photos with --log-format json",
                      problem.splitlines() if problem else ())

        # The traffic.
        records, sent_secrets = send_requests(replicas, args.requests, api_key, run_id)
        extra_secrets += [("a wrong API key the test sent", s) for s in sent_secrets]
        statuses = sorted({r["status"] for r in records})
        checks.ok(all(r["id"] for r in records), f"{len(records)} requests sent to {len(replicas)} replica(s), each answered "
                  f"with an x-request-id (statuses {statuses})")
        checks.ok(all(r["id"] == r["sent_id"] for r in records[:-1]) and records[-1]["id"] != records[-1]["sent_id"],
                  "plain x-request-ids are kept; one that is not plain is replaced by the server's own")
        checks.ok(any(r["status"] == 404 for r in records) and any(r["status"] == 400 for r in records)
                  and any(200 <= r["status"] < 300 for r in records), "the traffic holds 2xx, 404 and 400 answers")

        # Wait for their documents (and the ingest's), then let the shipper settle.
        wanted = {r["id"] for r in records}
        ingest_lines = []

        def arrived(documents):
            ids = {d["source"].get("http.request.id") for d in documents if d["source"].get("message") == "request"}
            ingest_docs = [d for d in documents if d["source"].get("service.node.name") == "ingest"]
            return wanted <= ids and len(ingest_docs) >= len(ingest_lines)

        with open(ingest_log, encoding="utf-8", errors="replace") as f:
            ingest_lines = [line for line in f.read().split("\n") if line.strip()]
        started = time.monotonic()
        complete = False
        while time.monotonic() - started < args.timeout:
            complete = sink.wait_for(arrived, 2)
            if complete:
                break
            if time.monotonic() - started > 10 and old_format(sink):
                break  # the old format: the ids will never show up under http.request.id
        time.sleep(1.5)
        documents = sink.documents()
        with sink.state.lock:
            bodies = list(sink.state.bulk_bodies)
            item_errors = list(sink.state.item_errors)
            requests = list(sink.state.requests)

        bulk_requests = [r for r in requests if r[1].endswith("_bulk")]
        checks.ok(bool(bulk_requests) and all(status == 200 for _, _, status in bulk_requests),
                  f"rsyslog sent {len(bulk_requests)} _bulk request(s) holding {len(documents) + len(item_errors)} document(s)",
                  [f"{m} {p}: {s}" for m, p, s in requests if s != 200][:10])
        checks.ok(not item_errors, f"no document refused by the sink (the template's mapping, the data stream's rules)",
                  [f"{e['status']} {e.get('error', {}).get('type')}: {e.get('error', {}).get('reason')}; the document: {e['source'][:300]}"
                   for e in item_errors][:10])

        old = old_format(sink)
        checks.ok(not old, "the log lines use ECS field names (no key of the format before: ts, level, label, request_id, "
                           "duration_ms)",
                  [f"{len(old)} document(s) carry the keys of the old format "
                   f"({', '.join(sorted(OLD_FORMAT_KEYS & set(old[0])))}), e.g. {json.dumps(old[0])[:300]}",
                   "this vitrine binary predates the ECS log format (ECSLogHandler): rebuild it"] if old else ())

        # 1. each request's document
        by_id = {}
        for d in documents:
            if d["source"].get("message") == "request" and d["source"].get("http.request.id") in wanted:
                by_id.setdefault(d["source"]["http.request.id"], []).append(d["source"])
        missing = [r for r in records if r["id"] not in by_id]
        checks.ok(not missing, f"every request's document arrived within {args.timeout:.0f} s ({len(records) - len(missing)} of {len(records)})",
                  [f"{r['node']} {r['method']} {r['target']} -> {r['status']} (x-request-id {r['id']})" for r in missing[:8]])
        duplicated = [i for i, docs in by_id.items() if len(docs) > 1]
        checks.ok(not duplicated, "each request's document arrived once", duplicated[:5])
        problems = []
        for r in records:
            for doc in by_id.get(r["id"], [])[:1]:
                problems += [f"{r['note']} ({r['method']} {r['target']} -> {r['status']}): {p}" for p in check_request_document(r, doc)]
        checks.ok(not problems and not missing,
                  "request documents carry the ECS fields with the right types and values (status code = what the client got, "
                  "method, path, route, event.duration > 0 ns, @timestamp, service.name, error.code on errors)", problems[:20])
        pids = {}
        for docs in by_id.values():
            pids.setdefault(docs[0].get("service.node.name"), set()).add(docs[0].get("process.pid"))
        checks.ok(all(len(p) == 1 for p in pids.values()), "each replica's documents carry one process.pid",
                  [f"{node}: {sorted(map(str, p))}" for node, p in pids.items() if len(p) != 1])
        if standalone:
            checks.ok(pids.get("vitrine-1") == {processes[0].pid},
                      f"process.pid is the replica's pid ({processes[0].pid}): {sorted(map(str, pids.get('vitrine-1', [])))}")

        # 2. the ingest run's documents
        ingest_docs = [d["source"] for d in documents if d["source"].get("service.node.name") == "ingest"]
        checks.ok(len(ingest_docs) == len(ingest_lines),
                  f"every line of the ingest run arrived ({len(ingest_docs)} documents for {len(ingest_lines)} lines)")
        if not json_ingest:
            checks.ok(False, "vitrine ingest --log-format json: this binary has no --log-format option (its progress lines "
                             "were shipped as text)")
        else:
            batches = [d for d in ingest_docs if d.get("message") == "batch committed"]
            finished = [d for d in ingest_docs if d.get("message") == "ingest finished"]
            problems = []
            for d in batches + finished:
                for key in ("@timestamp", "log.level", "message", "ecs.version", "service.name", "event.dataset", "process.pid"):
                    if key not in d:
                        problems.append(f"{d.get('message')!r}: {key} missing")
                if d.get("event.dataset") != "vitrine.ingest":
                    problems.append(f"{d.get('message')!r}: event.dataset {d.get('event.dataset')!r}, not 'vitrine.ingest'")
                if not is_int(d.get("event.duration")) or d["event.duration"] < 0:
                    problems.append(f"{d.get('message')!r}: event.duration {d.get('event.duration')!r} is not nanoseconds")
                for key in ("vitrine.ingest.ingested", "vitrine.ingest.updated", "vitrine.ingest.unchanged", "vitrine.ingest.failed"):
                    if not is_int(d.get(key)):
                        problems.append(f"{d.get('message')!r}: {key} = {d.get(key)!r}, not an integer")
            for d in batches:
                for key in ("vitrine.ingest.batch", "vitrine.data.generation"):
                    if not is_int(d.get(key)):
                        problems.append(f"batch committed: {key} = {d.get(key)!r}, not an integer")
            numbers = sorted(d.get("vitrine.ingest.batch") for d in batches if is_int(d.get("vitrine.ingest.batch")))
            if numbers != list(range(1, len(batches) + 1)):
                problems.append(f"batch numbers {numbers}, not 1…{len(batches)}")
            if not batches:
                problems.append("no 'batch committed' document")
            if len(finished) != 1:
                problems.append(f"{len(finished)} 'ingest finished' documents, not 1")
            else:
                total = sum(d.get("vitrine.ingest.ingested", 0) for d in batches if is_int(d.get("vitrine.ingest.ingested")))
                if finished[0].get("vitrine.ingest.ingested") != total or total != len(SHOP):
                    problems.append(f"ingest finished says {finished[0].get('vitrine.ingest.ingested')!r} ingested; "
                                    f"the batches add up to {total}; the shop has {len(SHOP)} products")
            checks.ok(not problems, f"ingest documents: {len(batches)} 'batch committed' (numbered, with counts and the "
                                    "generation) and one 'ingest finished' with the totals", problems[:15])

        # 3. secrets
        candidates = secrets_to_find(env, extra_secrets)
        problems = scan_secrets(documents, bodies, candidates)
        checks.ok(not problems, f"no document holds a secret ({len(candidates)} values searched in {len(documents)} documents "
                                f"and {len(bodies)} bulk bodies: {', '.join(sorted({n for n, _ in candidates}))})", problems[:10])

        # 4. the index template against what Vitrine wrote
        with open(TEMPLATE, encoding="utf-8") as f:
            template = json.load(f)
        # The documents the sink refused count too: a mapping conflict is what refuses them.
        refused = []
        for error in item_errors:
            try:
                refused.append({"source": json.loads(error.get("source", ""))})
            except ValueError:
                pass
        problems, seen = check_mapping(documents + [r for r in refused if isinstance(r["source"], dict)], template)
        checks.ok(not problems and bool(documents),
                  f"every field of the {len(documents) + len(refused)} documents is mapped in index-template.json with a type "
                  f"its values fit ({len(seen)} distinct fields)", problems[:25])
        mapped = dict(template_fields(template["template"]["mappings"]["properties"]))
        unseen = sorted(set(mapped) - set(seen))
        if unseen:
            checks.note(f"template fields no document of this run used (written by other code paths): {', '.join(unseen)}")

        # 5. Kibana's saved searches
        problems = []
        with open(SAVED_SEARCHES, encoding="utf-8") as f:
            for line in f:
                obj = json.loads(line)
                if obj.get("type") != "search":
                    continue
                attributes = obj["attributes"]
                source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
                fields = set(attributes.get("columns", [])) | kql_fields(source["query"]["query"])
                fields |= {s[0] for s in attributes.get("sort", [])}
                problems += [f"{obj['id']}: {field} is not mapped" for field in sorted(fields) if field not in mapped]
        checks.ok(not problems, "the Kibana saved searches show and query only mapped fields", problems)
    except SystemExit as stop:
        checks.ok(False, str(stop))
    except Exception as error:  # noqa: BLE001 (reported as a failed check, then cleaned up)
        checks.ok(False, f"{type(error).__name__}: {error}")
    finally:
        for process in reversed(processes):
            process.stop()
        if sink is not None:
            save_artifacts(work, sink)
            sink.__exit__(None, None, None)
        if args.keep:
            print(f"info  kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    checks.exit()


def save_artifacts(work, sink):
    """The received documents, the rendered rsyslog configuration and the logs, for a failed run."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "documents.ndjson"), "w", encoding="utf-8") as f:
        for record in sink.documents():
            f.write(json.dumps({"_index": record["backing_index"], "_id": record["id"], "_source": record["source"]}) + "\n")
    with sink.state.lock:
        errors = list(sink.state.item_errors)
    with open(os.path.join(ARTIFACTS, "refused.json"), "w", encoding="utf-8") as f:
        json.dump(errors, f, indent=1)
    for name in ("rsyslog/rsyslog.conf", "rsyslog/elasticsearch-errors.json", "logs/rsyslogd.log", "logs/ingest.log",
                 "logs/vitrine-1.log"):
        path = os.path.join(work, name)
        if os.path.exists(path):
            shutil.copy(path, os.path.join(ARTIFACTS, os.path.basename(name)))


if __name__ == "__main__":
    main()
