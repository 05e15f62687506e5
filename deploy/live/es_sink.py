"""A stand-in for Elasticsearch 8 that log shippers can write to: enough of its HTTP API for a
shipper to start, authenticate and send `_bulk` requests, and for a test to read every document
it was sent. Elasticsearch itself cannot run on the test machines; everything else in the log
path (Vitrine, the shipper, its configuration) is the real thing.

What it answers, as Elasticsearch 8.15 does:
  GET|HEAD /                      the cluster's version (shippers check the major version)
  GET|HEAD /_cat/health           one text line (rsyslog's omelasticsearch health check)
  GET /_cluster/health            status green
  PUT /_index_template/NAME       stores a composable template (deploy/elasticsearch/setup.sh);
  GET /_index_template[/NAME]     and returns them
  PUT /_template/NAME             a legacy template (older shippers install one)
  PUT /_ilm/policy/NAME           stores a lifecycle policy
  POST|PUT /_bulk, /INDEX/_bulk   NDJSON: action lines and documents
Basic authentication when the sink is given a user and password (401 otherwise, with
Elasticsearch's security_exception body).

`_bulk` is checked the way Elasticsearch checks it: Content-Type application/json or
application/x-ndjson (406 otherwise), the body ends with a newline, each action line is one of
index/create/update/delete with known metadata keys only (`_type` is refused, as 8.x does),
every index/create action is followed by a JSON object. A target that a template with
`data_stream` matches is a data stream: only `create` is allowed, the document needs
`@timestamp`, and it lands in a backing index `.ds-NAME-YYYY.MM.DD-000001`. Documents are
checked against the matching template's mappings (dotted keys are object paths; a value that
does not fit a mapped type fails that item with document_parsing_exception, status 400; new
fields are mapped dynamically, strings through the template's dynamic_templates), and a
`create` whose `_id` exists already fails with 409. Items that pass answer 201 "created"; the
response is {"took", "errors", "items"} with one entry per action, in order.

Run alone for development (prints each document as it arrives):
  python3 deploy/live/es_sink.py --port 9200 [--user U --password P]
"""

import argparse
import base64
import datetime
import fnmatch
import gzip
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

VERSION = "8.15.3"
ACTIONS = ("index", "create", "update", "delete")
# Metadata an action line may carry in 8.x; anything else (`_type` above all) is refused.
ACTION_KEYS = {"_index", "_id", "routing", "pipeline", "require_alias", "require_data_stream", "if_seq_no",
               "if_primary_term", "version", "version_type", "dynamic_templates", "retry_on_conflict",
               "_source", "list_executed_pipelines"}
NUMERIC = {"long", "integer", "short", "byte", "unsigned_long", "double", "float", "half_float", "scaled_float"}
INTEGRAL = {"long", "integer", "short", "byte", "unsigned_long"}
STRINGY = {"keyword", "text", "wildcard", "match_only_text", "constant_keyword", "ip", "version"}
# strict_date_optional_time: a date, optionally a time with fraction, optionally a zone.
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?)?$")


class MappingError(Exception):
    """A value the mapping cannot take: Elasticsearch's document_parsing_exception."""


def parse_date(value):
    """A value a `date` field with the default format takes: strict_date_optional_time or
    epoch_millis. Returns the moment (UTC) or raises MappingError."""
    if isinstance(value, bool):
        raise MappingError(f"failed to parse date field [{value}]")
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value / 1000, datetime.timezone.utc)
    if isinstance(value, str) and DATE.match(value):
        text = value.replace(",", ".")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        # fromisoformat takes at most 6 fraction digits; Elasticsearch keeps nanoseconds.
        text = re.sub(r"\.(\d{6})\d+", r".\1", text)
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError as error:
            raise MappingError(f"failed to parse date field [{value}]: {error}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment
    raise MappingError(f"failed to parse date field [{value}] with format [strict_date_optional_time||epoch_millis]")


def leaves(document, prefix=""):
    """(path, value) for every value of a document, dotted keys and nested objects alike taken
    as object paths, as Elasticsearch reads them. Arrays give their elements under one path."""
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from leaves(value, path + ".")
        elif isinstance(value, list):
            for element in value:
                if isinstance(element, dict):
                    yield from leaves(element, path + ".")
                else:
                    yield path, element
        else:
            yield path, value


def resolve(properties, path):
    """The mapping of a dotted path inside a `properties` tree: ("field", mapping) for a leaf,
    ("object", mapping) for an object, (None, None) when not mapped. A mapped leaf met before
    the path's end is ("leaf-prefix", its path)."""
    parts = path.split(".")
    node = {"properties": properties}
    for index, part in enumerate(parts):
        children = node.get("properties")
        if children is None or part not in children:
            # Elasticsearch also lets a field's name itself hold dots ("a.b": {...}).
            if children is not None:
                for length in range(len(parts) - index, 1, -1):
                    joined = ".".join(parts[index:index + length])
                    if joined in children:
                        rest = ".".join(parts[index + length:])
                        if not rest:
                            return kind_of(children[joined]), children[joined]
                        return resolve(children[joined].get("properties", {}), rest)
            return None, None
        node = children[part]
        if index < len(parts) - 1 and "properties" not in node and node.get("type", "object") not in ("object", "nested"):
            return "leaf-prefix", ".".join(parts[:index + 1])
    return kind_of(node), node


def kind_of(mapping):
    return "object" if "properties" in mapping or mapping.get("type") in ("object", "nested") else "field"


def check_value(path, mapping, value):
    """Raises MappingError when `value` cannot be indexed into a field mapped as `mapping`
    (Elasticsearch's default coercion: numbers accept numeric strings; keywords take numbers and
    booleans as their text)."""
    kind = mapping.get("type")
    if value is None:
        return
    if kind in NUMERIC:
        if isinstance(value, bool):
            raise MappingError(f"failed to parse field [{path}] of type [{kind}]: booleans are not numbers")
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise MappingError(f"failed to parse field [{path}] of type [{kind}]: For input string: \"{value}\"") from None
        if not isinstance(value, (int, float)):
            raise MappingError(f"failed to parse field [{path}] of type [{kind}]")
        if kind == "unsigned_long" and value < 0:
            raise MappingError(f"failed to parse field [{path}] of type [unsigned_long]: negative")
    elif kind == "date":
        try:
            parse_date(value)
        except MappingError as error:
            raise MappingError(f"failed to parse field [{path}] of type [date]: {error}") from None
    elif kind == "boolean":
        if value not in (True, False, "true", "false", ""):
            raise MappingError(f"failed to parse field [{path}] of type [boolean]: [{value}]")
    elif kind in STRINGY or kind is None:
        if isinstance(value, (dict, list)):
            raise MappingError(f"failed to parse field [{path}] of type [{kind}]: an object")


def dynamic_mapping(template_mappings, value):
    """The mapping Elasticsearch gives a new field: dynamic_templates first (by
    match_mapping_type), then its defaults (string → text with a keyword subfield, integer →
    long, fraction → float, boolean)."""
    if isinstance(value, bool):
        detected = "boolean"
    elif isinstance(value, int):
        detected = "long"
    elif isinstance(value, float):
        detected = "double"
    else:
        detected = "string"
    for entry in template_mappings.get("dynamic_templates", []):
        for _, rule in entry.items():
            wanted = rule.get("match_mapping_type", "*")
            if wanted in ("*", detected) or (isinstance(wanted, list) and detected in wanted):
                return dict(rule.get("mapping", {}))
    return {"boolean": {"type": "boolean"}, "long": {"type": "long"}, "double": {"type": "float"}}.get(
        detected, {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})


def add_field(properties, path, mapping):
    node = properties
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {"properties": {}}).setdefault("properties", {})
    node[parts[-1]] = mapping


class Index:
    """One index or data stream: its mappings (from the template, grown by dynamic mapping),
    its documents and their ids."""

    def __init__(self, name, template):
        self.name = name
        body = (template or {}).get("template", {}) if template and "template" in template else (template or {})
        self.data_stream = template is not None and "data_stream" in template
        self.mappings = json.loads(json.dumps(body.get("mappings", {})))
        self.mappings.setdefault("properties", {})
        self.ids = set()
        self.backing = (f".ds-{name}-{datetime.datetime.now(datetime.timezone.utc):%Y.%m.%d}-000001"
                        if self.data_stream else name)
        self.sequence = 0

    def admit(self, document):
        """Checks a document against the mapping and maps its new fields (all or nothing, as a
        rejected document changes no mapping)."""
        if self.data_stream:
            if "@timestamp" not in document:
                raise MappingError("data stream timestamp field [@timestamp] is missing")
        additions = {}
        dynamic = str(self.mappings.get("dynamic", True)).lower()
        for path, value in leaves(document):
            if value is None:
                continue
            kind, mapping = resolve(self.mappings["properties"], path)
            if kind == "leaf-prefix":
                raise MappingError(f"Could not dynamically add mapping for field [{path}]. Existing mapping for [{mapping}] must be of type object but found a concrete field")
            if kind == "object":
                raise MappingError(f"object mapping for [{path}] tried to parse field [{path}] as object, but found a concrete value")
            if kind == "field":
                check_value(path, mapping, value)
                continue
            if path in additions:
                check_value(path, additions[path], value)
                continue
            if dynamic == "strict":
                raise MappingError(f"[{path}] is not allowed (dynamic is strict)")
            if dynamic == "false":
                continue
            additions[path] = dynamic_mapping(self.mappings, value)
        for path, mapping in additions.items():
            add_field(self.mappings["properties"], path, mapping)


class SinkState:
    def __init__(self, user=None, password=None, on_document=None):
        self.user, self.password = user, password
        self.on_document = on_document
        self.lock = threading.Condition()
        self.templates = {}          # composable index templates by name
        self.legacy_templates = {}   # _template
        self.policies = {}
        self.indices = {}
        self.documents = []          # {"index", "backing_index", "op", "id", "source"}, in arrival order
        self.bulk_bodies = []        # the raw bodies, for scanning
        self.requests = []           # (method, path, status)
        self.item_errors = []        # error objects of refused items

    def template_for(self, index):
        best = None
        for name, template in self.templates.items():
            patterns = template.get("index_patterns", [])
            patterns = [patterns] if isinstance(patterns, str) else patterns
            if any(fnmatch.fnmatchcase(index, p) for p in patterns):
                if best is None or template.get("priority", 0) > best.get("priority", 0):
                    best = template
        return best

    def index(self, name):
        if name not in self.indices:
            self.indices[name] = Index(name, self.template_for(name))
        return self.indices[name]


def error_body(kind, reason, status, **extra):
    cause = {"type": kind, "reason": reason, **extra}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "es-sink"
    sys_version = ""

    def log_message(self, *args):
        pass

    # ------------------------------------------------------------------ plumbing
    @property
    def state(self):
        return self.server.state

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type + ("; charset=UTF-8" if "json" in content_type or "text" in content_type else ""))
        self.send_header("X-elastic-product", "Elasticsearch")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="security", charset="UTF-8"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        with self.state.lock:
            self.state.requests.append((self.command, self.path, status))

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            data = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            data = gzip.decompress(data)
        return data

    def authorized(self):
        if self.state.user is None:
            return True
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                user, password = None, None
            if user == self.state.user and password == self.state.password:
                return True
            reason = f"unable to authenticate user [{user}] for REST request [{urlsplit(self.path).path}]"
        else:
            reason = f"missing authentication credentials for REST request [{urlsplit(self.path).path}]"
        self.reply(401, error_body("security_exception", reason, 401))
        return False

    def route(self):
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        if not self.authorized():
            self.body()
            return
        method = self.command
        if method in ("GET", "HEAD") and not parts:
            return self.reply(200, {
                "name": "es-sink", "cluster_name": "vitrine-test", "cluster_uuid": "sink-0000",
                "version": {"number": VERSION, "build_flavor": "default", "build_type": "docker",
                            "lucene_version": "9.11.1", "minimum_wire_compatibility_version": "7.17.0",
                            "minimum_index_compatibility_version": "7.0.0"},
                "tagline": "You Know, for Search"})
        if method in ("GET", "HEAD") and parts == ["_cat", "health"]:
            now = int(time.time())
            line = f"{now} {time.strftime('%H:%M:%S', time.gmtime(now))} vitrine-test green 1 1 0 0 0 0 0 0 - 100.0%\n"
            return self.reply(200, line, "text/plain")
        if method in ("GET", "HEAD") and parts == ["_cluster", "health"]:
            return self.reply(200, {"cluster_name": "vitrine-test", "status": "green", "timed_out": False,
                                    "number_of_nodes": 1, "number_of_data_nodes": 1})
        if parts[:1] in (["_index_template"], ["_template"], ["_ilm"]):
            return self.templates(method, parts)
        if parts and parts[-1] == "_bulk" and len(parts) <= 2 and method in ("POST", "PUT"):
            return self.bulk(parts[0] if len(parts) == 2 else None)
        self.body()
        self.reply(400, error_body("illegal_argument_exception",
                                   f"no handler found for uri [{self.path}] and method [{method}]", 400))

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = lambda self: self.route()

    # ------------------------------------------------------------------ templates and policies
    def templates(self, method, parts):
        data = self.body()
        state = self.state
        if parts[0] == "_ilm":
            if len(parts) == 3 and parts[1] == "policy" and method == "PUT":
                try:
                    policy = json.loads(data)
                    assert "policy" in policy and "phases" in policy["policy"]
                except (ValueError, AssertionError):
                    return self.reply(400, error_body("x_content_parse_exception", "a policy needs policy.phases", 400))
                with state.lock:
                    state.policies[parts[2]] = policy
                return self.reply(200, {"acknowledged": True})
            if len(parts) == 3 and parts[1] == "policy" and method in ("GET", "HEAD"):
                with state.lock:
                    found = state.policies.get(parts[2])
                if found is None:
                    return self.reply(404, error_body("resource_not_found_exception", f"Lifecycle policy not found: {parts[2]}", 404))
                return self.reply(200, {parts[2]: {"version": 1, **found}})
            return self.reply(400, error_body("illegal_argument_exception", f"no handler found for uri [{self.path}]", 400))
        store = state.templates if parts[0] == "_index_template" else state.legacy_templates
        if method == "PUT" or method == "POST":
            if len(parts) != 2:
                return self.reply(400, error_body("illegal_argument_exception", "a template needs a name", 400))
            try:
                template = json.loads(data)
            except ValueError as error:
                return self.reply(400, error_body("x_content_parse_exception", str(error), 400))
            if not isinstance(template, dict) or not template.get("index_patterns"):
                return self.reply(400, error_body("action_request_validation_exception",
                                                  "Validation Failed: 1: index patterns are missing;", 400))
            if parts[0] == "_template":
                # A legacy template keeps mappings and settings at the top; held as a composable one.
                template = {"index_patterns": template["index_patterns"], "priority": template.get("order", 0),
                            "template": {k: template[k] for k in ("mappings", "settings") if k in template}}
            with state.lock:
                store[parts[1]] = template
            return self.reply(200, {"acknowledged": True})
        if method in ("GET", "HEAD"):
            with state.lock:
                chosen = {n: t for n, t in store.items() if len(parts) == 1 or fnmatch.fnmatchcase(n, parts[1])}
            if len(parts) == 2 and not chosen:
                return self.reply(404, error_body("resource_not_found_exception", f"index template matching [{parts[1]}] not found", 404))
            if parts[0] == "_index_template":
                return self.reply(200, {"index_templates": [{"name": n, "index_template": t} for n, t in chosen.items()]})
            return self.reply(200, chosen)
        return self.reply(400, error_body("illegal_argument_exception", f"no handler found for uri [{self.path}]", 400))

    # ------------------------------------------------------------------ _bulk
    def bulk(self, default_index):
        started = time.monotonic()
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        data = self.body()
        if content_type not in ("application/json", "application/x-ndjson"):
            return self.reply(406, {"error": f"Content-Type header [{self.headers.get('Content-Type')}] is not supported",
                                    "status": 406})
        if not data.endswith(b"\n"):
            return self.reply(400, error_body("illegal_argument_exception",
                                              "The bulk request must be terminated by a newline [\\n]", 400))
        lines = data.split(b"\n")[:-1]
        # First pass: the action lines, as Elasticsearch parses the whole request before it runs
        # any item (a malformed action line fails the request, a bad document only its item).
        operations = []
        number = 0
        while number < len(lines):
            raw = lines[number]
            number += 1
            if not raw.strip():
                continue
            try:
                action = json.loads(raw)
            except ValueError as error:
                return self.reply(400, error_body("x_content_parse_exception", f"[{number}:1] Malformed action/metadata line [{number}]: {error}", 400))
            if not isinstance(action, dict) or len(action) != 1 or next(iter(action)) not in ACTIONS:
                return self.reply(400, error_body("illegal_argument_exception",
                                                  f"Malformed action/metadata line [{number}], expected one of {list(ACTIONS)} but found [{raw.decode(errors='replace')[:80]}]", 400))
            op, meta = next(iter(action.items()))
            if not isinstance(meta, dict):
                return self.reply(400, error_body("illegal_argument_exception", f"Malformed action/metadata line [{number}]", 400))
            unknown = sorted(set(meta) - ACTION_KEYS)
            if unknown:
                return self.reply(400, error_body("illegal_argument_exception",
                                                  f"Action/metadata line [{number}] contains an unknown parameter [{unknown[0]}]", 400))
            index = meta.get("_index", default_index)
            if not index:
                return self.reply(400, error_body("action_request_validation_exception", "Validation Failed: 1: index is missing;", 400))
            source = None
            if op != "delete":
                if number >= len(lines):
                    return self.reply(400, error_body("illegal_argument_exception", f"The bulk request must be terminated by a newline [\\n]", 400))
                source = lines[number]
                number += 1
            operations.append((op, index, meta, source))

        items, errors = [], False
        with self.state.lock:
            self.state.bulk_bodies.append(data)
            for op, index_name, meta, source in operations:
                result = self.run_item(op, index_name, meta, source)
                status = result["status"]
                if status >= 300:
                    errors = True
                    self.state.item_errors.append({"op": op, "index": index_name, **result,
                                                   "source": (source or b"").decode("utf-8", errors="replace")})
                items.append({op: result})
            self.state.lock.notify_all()
        self.reply(200, {"took": int((time.monotonic() - started) * 1000), "errors": errors, "items": items})

    def run_item(self, op, index_name, meta, source):
        """One action, under the state's lock. Returns the item's response object."""
        state = self.state
        index = state.index(index_name)
        doc_id = meta.get("_id")
        base = {"_index": index.backing, "_id": doc_id}
        if index.data_stream and op != "create":
            return {**base, "status": 400, "error": {
                "type": "illegal_argument_exception",
                "reason": f"only write ops with an op_type of create are allowed in data streams"}}
        if op in ("delete", "update"):
            if doc_id not in index.ids:
                return {**base, "status": 404, "result": "not_found",
                        "error": {"type": "document_missing_exception", "reason": f"[{doc_id}]: document missing"}}
            return {**base, "status": 200, "result": "deleted" if op == "delete" else "updated"}
        try:
            document = json.loads(source)
        except ValueError as error:
            return {**base, "status": 400, "error": {"type": "document_parsing_exception",
                                                     "reason": f"[1:1] failed to parse: {error}"}}
        if not isinstance(document, dict):
            return {**base, "status": 400, "error": {"type": "document_parsing_exception",
                                                     "reason": "[1:1] failed to parse: the document is not an object"}}
        if doc_id is None:
            doc_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")[:20]
            base["_id"] = doc_id
        if op == "create" and doc_id in index.ids:
            return {**base, "status": 409, "error": {
                "type": "version_conflict_engine_exception",
                "reason": f"[{doc_id}]: version conflict, document already exists (current version [1])"}}
        try:
            index.admit(document)
        except MappingError as error:
            return {**base, "status": 400, "error": {"type": "document_parsing_exception", "reason": str(error)}}
        index.ids.add(doc_id)
        index.sequence += 1
        record = {"index": index_name, "backing_index": index.backing, "op": op, "id": doc_id, "source": document}
        state.documents.append(record)
        if state.on_document:
            state.on_document(record)
        return {**base, "_version": 1, "result": "created",
                "_shards": {"total": 1, "successful": 1, "failed": 0},
                "_seq_no": index.sequence - 1, "_primary_term": 1, "status": 201}


class Sink(ThreadingHTTPServer):
    """The sink on 127.0.0.1:PORT (0: a free one), serving from a thread of its own."""
    daemon_threads = True

    def __init__(self, port=0, user=None, password=None, on_document=None):
        super().__init__(("127.0.0.1", port), Handler)
        self.state = SinkState(user, password, on_document)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    def documents(self):
        with self.state.lock:
            return list(self.state.documents)

    def wait_for(self, predicate, timeout):
        """Waits until predicate(documents) is true or the timeout passes; returns its last value."""
        deadline = time.monotonic() + timeout
        with self.state.lock:
            while True:
                result = predicate(self.state.documents)
                remaining = deadline - time.monotonic()
                if result or remaining <= 0:
                    return result
                self.state.lock.wait(min(remaining, 0.5))


def main():
    parser = argparse.ArgumentParser(description="A local stand-in for Elasticsearch's _bulk API.")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    show = lambda record: print(json.dumps({"_index": record["index"], "_id": record["id"], **record["source"]}), flush=True)
    with Sink(args.port, args.user, args.password, show) as sink:
        print(f"es-sink listening on {sink.url}", flush=True)
        try:
            sink.thread.join()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
