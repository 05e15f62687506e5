#!/usr/bin/env python3
"""nginx in front of two real `vitrine serve` replicas (the loopback stack of
scripts/local-stack.sh, configured by deploy/nginx/): requests reach both replicas; a replica
SIGKILLed while idempotent searches run → zero failed requests, then it is restarted; an
oversized upload → 413 in Vitrine's JSON error shape; the search rate limits answer 429; HTTP
redirects to HTTPS; TLS is served with the stack's self-signed certificate; /metrics is not
exposed; JSON is gzipped; /images/ gets long cache lifetimes.

    deploy/live/test_nginx.py          (after scripts/local-stack.sh up; reads .local-stack/env)
"""

import gzip
import http.client
import json
import socket
import ssl
import threading
import time
import urllib.parse
import uuid

import live

env = live.load_env()
checks = live.Checks("test_nginx")
HTTPS = env["NGINX_HTTPS_URL"]
HTTP = env["NGINX_HTTP_URL"]
TLS = live.tls_context(env["NGINX_CERT"])
RUN = uuid.uuid4().hex[:10]
IMMUTABLE = "public, max-age=31536000, immutable"
UPLOAD_LIMIT = 10 * 1024 * 1024  # Vitrine's limits.uploadBytes default (README, APIError.tooLarge)
NGINX_IMAGE_BODY_LIMIT = 10304 * 1024  # client_max_body_size of /api/v1/search/image (vitrine-locations.conf)


def https(method, path, **kwargs):
    kwargs.setdefault("context", TLS)
    return live.request(method, HTTPS + path, **kwargs)


def is_error_shape(response, status, code):
    try:
        body = response.json()
    except ValueError:
        return False
    return (response.status == status and set(body) == {"error"} and set(body["error"]) == {"code", "message"}
            and body["error"]["code"] == code and isinstance(body["error"]["message"], str)
            and (response.header("content-type") or "").startswith("application/json"))


def replicas_logging(ids, timeout=10):
    """{replica number: how many of these request ids its JSON log has}, once every id is logged."""
    ids = set(ids)

    def count():
        seen = {}
        for n in (1, 2):
            lines, _ = live.log_lines(env[f"VITRINE_{n}_LOG"])
            hits = set()
            for line in lines:
                for request_id in ids:
                    if f'"{request_id}"' in line:
                        hits.add(request_id)
            seen[n] = hits
        return seen if len(seen[1] | seen[2]) == len(ids) else None

    try:
        seen = live.wait_for("every request id in a replica log", count, timeout, 0.2)
    except TimeoutError:
        seen = count_anyway(ids)
    return {n: len(hits) for n, hits in seen.items()}, seen


def count_anyway(ids):
    seen = {}
    for n in (1, 2):
        lines, _ = live.log_lines(env[f"VITRINE_{n}_LOG"])
        seen[n] = {i for i in ids for line in lines if f'"{i}"' in line}
    return seen


# ------------------------------------------------------------------------------------ fixtures
catalog = live.get_json(env["VITRINE_1_URL"] + "/api/v1/search?q=shirt&k=20")["results"]
if not catalog:
    raise SystemExit("the stack's catalog is empty: nothing to search")
product_ids = [r["id"] for r in catalog]
image_path = catalog[0]["image"]  # /images/<sha256>.<ext>
photo = live.get(env["VITRINE_1_URL"] + image_path).body


# ------------------------------------------------------------------------------------ checks
def both_replicas():
    ids = [f"live-nginx-{RUN}-spread-{i}" for i in range(20)]
    statuses, echoed = [], 0
    for request_id in ids:
        r = https("GET", "/api/v1/categories", headers={"X-Request-ID": request_id})
        statuses.append(r.status)
        echoed += r.header("x-request-id") == request_id
    checks.ok(all(s == 200 for s in statuses), f"20 requests through nginx all answered 200 ({sorted(set(statuses))})")
    checks.ok(echoed == 20, f"the client's X-Request-ID comes back on every answer ({echoed}/20)")
    counts, _ = replicas_logging(ids)
    checks.ok(counts[1] > 0 and counts[2] > 0 and counts[1] + counts[2] == 20,
              f"requests reach both replicas, each logged once (replica 1: {counts[1]}, replica 2: {counts[2]})")


def tls():
    parts = urllib.parse.urlsplit(HTTPS)
    for name in ("127.0.0.1", "localhost"):
        with socket.create_connection((parts.hostname, parts.port), 5) as raw:
            with TLS.wrap_socket(raw, server_hostname=name) as s:
                cert = s.getpeercert()
                version = s.version()
        subject = dict(x[0] for x in cert.get("subject", ()))
        checks.ok(version in ("TLSv1.2", "TLSv1.3") and subject.get("commonName") == "localhost",
                  f"TLS as {name} verifies against NGINX_CERT ({version}, CN={subject.get('commonName')})")
    try:
        live.get(HTTPS + "/healthz", context=ssl.create_default_context(), timeout=5)
        checks.ok(False, "the system's trust store refuses the self-signed certificate (it accepted it)")
    except ssl.SSLCertVerificationError as error:
        checks.ok(True, f"the system's trust store refuses the self-signed certificate ({error.verify_message})")
    r = https("GET", "/healthz")
    checks.ok(r.status == 200, f"GET /healthz over HTTPS answers 200 ({r.status})")


def redirect():
    for method, path in (("GET", "/api/v1/search?q=red%20dress&k=3"), ("POST", "/api/v1/search/image"), ("GET", "/")):
        r = live.request(method, HTTP + path, body=b"" if method == "POST" else None)
        want = HTTPS + path
        checks.ok(r.status == 308 and r.header("location") == want,
                  f"{method} http://…{path} → {r.status} to {r.header('location')} (want 308 to {want})")
    r = live.get(HTTP + "/nginx-health")
    checks.ok(r.status == 200, f"GET http://…/nginx-health answers 200 from loopback ({r.status})")


def metrics_hidden():
    own = live.get(env["VITRINE_1_URL"] + "/metrics")
    checks.ok(own.status == 200 and b"vitrine_http_requests_total" in own.body,
              "a replica serves /metrics itself (what nginx must hide)")
    for path in ("/metrics", "/metrics?format=prometheus", "//metrics", "/%6Detrics", "/./metrics"):
        r = https("GET", path)
        checks.ok(r.status == 404 and b"vitrine_" not in r.body and is_error_shape(r, 404, "not_found"),
                  f"GET {path} through nginx → {r.status} in the error shape, no metrics ({r.body[:80]!r})")


def compression():
    for path in ("/openapi.json", "/api/v1/search?q=dress&k=50"):
        r = https("GET", path, headers={"Accept-Encoding": "gzip"})
        body = r.body
        ok = r.status == 200 and r.header("content-encoding") == "gzip" and "Accept-Encoding" in (r.header("vary") or "")
        if ok:
            body = gzip.decompress(body)
            json.loads(body)
        checks.ok(ok, f"GET {path} with Accept-Encoding: gzip → {r.status}, Content-Encoding {r.header('content-encoding')}, "
                      f"Vary {r.header('vary')}, {len(r.body)} bytes for {len(body)} of JSON")
        plain = https("GET", path)
        checks.ok(plain.status == 200 and plain.header("content-encoding") is None,
                  f"GET {path} without Accept-Encoding is sent plain ({plain.header('content-encoding')})")
    page = https("GET", "/?q=dress", headers={"Accept-Encoding": "gzip"})
    checks.ok(page.status == 200 and page.header("content-encoding") == "gzip",
              f"the web UI's HTML is gzipped ({page.status}, {page.header('content-encoding')})")


def image_caching():
    for path in (image_path, image_path + "?w=64"):
        r = https("GET", path)
        checks.ok(r.status == 200 and r.header("cache-control") == IMMUTABLE and len(r.body) > 0,
                  f"GET {path} → {r.status}, Cache-Control: {r.header('cache-control')}")
        etag = r.header("etag")
        if etag:
            again = https("GET", path, headers={"If-None-Match": etag})
            checks.ok(again.status == 304 and again.header("cache-control") == IMMUTABLE,
                      f"GET {path} with If-None-Match → {again.status}, Cache-Control: {again.header('cache-control')}")
    missing = "/images/" + "0" * 64 + ".png"
    r = https("GET", missing)
    checks.ok(r.status == 404 and "immutable" not in (r.header("cache-control") or ""),
              f"GET of an unknown image → {r.status}, Cache-Control: {r.header('cache-control')} (never cached for long)")
    api = https("GET", "/api/v1/categories")
    checks.ok("immutable" not in (api.header("cache-control") or ""),
              f"API answers keep their own caching ({api.header('cache-control')})")


def post_raw(path, size, source):
    """POST `size` bytes; the body is sent even if the server answers early (then read the answer)."""
    parts = urllib.parse.urlsplit(HTTPS)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=60, context=TLS, source_address=(source, 0))
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "image/png")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        chunk = b"\0" * (1 << 20)
        sent = 0
        try:
            while sent < size:
                piece = chunk[: min(len(chunk), size - sent)]
                conn.send(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        response = conn.getresponse()
        return live.Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def too_large():
    r = post_raw("/api/v1/search/image", NGINX_IMAGE_BODY_LIMIT + 1024 * 1024, "127.0.0.41")
    checks.ok(is_error_shape(r, 413, "payload_too_large"),
              f"an 11 MiB image search → nginx answers {r.status} {r.header('content-type')} {r.body[:120]!r}")
    # Over Vitrine's limit but within nginx's (which leaves room for multipart framing): the replica
    # answers, in the same shape.
    r = post_raw("/api/v1/search/image", UPLOAD_LIMIT + 1, "127.0.0.42")
    checks.ok(is_error_shape(r, 413, "payload_too_large"),
              f"a raw body of 10 MiB + 1 byte → the replica answers {r.status} {r.body[:120]!r}")


def burst(method, path, count, threads, source, body=None, headers=None):
    statuses, bodies, lock = [], [], threading.Lock()
    per_thread = count // threads

    def worker():
        for _ in range(per_thread):
            try:
                r = https(method, path, body=body, headers=headers or {}, source=source)
                with lock:
                    statuses.append(r.status)
                    bodies.append(r)
            except Exception as error:  # noqa: BLE001
                with lock:
                    statuses.append(repr(error))

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return statuses, bodies


def rate_limits():
    statuses, answers = burst("GET", "/api/v1/search?q=blue%20jeans&k=5", 80, 8, "127.0.0.51")
    limited = [r for r in answers if r.status == 429]
    checks.ok(statuses.count(200) >= 20 and limited and all(is_error_shape(r, 429, "rate_limited") for r in limited)
              and all(r.header("retry-after") == "1" for r in limited) and set(statuses) <= {200, 429},
              f"80 text searches at once from one address → {statuses.count(200)} × 200, {len(limited)} × 429 "
              f"(JSON rate_limited, Retry-After 1)")
    statuses, answers = burst("GET", f"/api/v1/products/{urllib.parse.quote(product_ids[0])}/similar?k=5", 60, 6, "127.0.0.52")
    checks.ok(200 in statuses and 429 in statuses and set(statuses) <= {200, 429},
              f"60 'more like this' at once → {statuses.count(200)} × 200, {statuses.count(429)} × 429")
    statuses, answers = burst("POST", "/api/v1/search/image?k=3", 12, 6, "127.0.0.53", body=photo,
                              headers={"Content-Type": "image/png"})
    checks.ok(200 in statuses and 429 in statuses and set(statuses) <= {200, 429},
              f"12 image searches at once → {statuses.count(200)} × 200, {statuses.count(429)} × 429 (2/s, burst 4)")
    statuses, _ = burst("GET", "/api/v1/categories", 80, 8, "127.0.0.54")
    checks.ok(statuses.count(200) == 80, f"80 facet requests at once are not limited ({sorted(set(map(str, statuses)))})")
    time.sleep(1.5)
    r = https("GET", "/api/v1/search?q=blue%20jeans&k=5", source="127.0.0.51")
    checks.ok(r.status == 200, f"the limited address is served again a moment later ({r.status})")


def failover():
    """Searches and product reads through nginx from six clients; replica 1 is SIGKILLed in the
    middle; every request must still succeed (nginx retries idempotent requests on the other)."""
    stop = threading.Event()
    results, lock = [], threading.Lock()
    killed_at = [None]
    queries = ["red dress", "white sneakers", "leather bag", "summer shirt", "wool coat", "sandals"]

    def searcher(i):
        # Below the 10/s rate limit of its own address, so every answer should be a 200.
        source = f"127.0.0.{60 + i}"
        n = 0
        while not stop.is_set():
            started = time.monotonic()
            q = urllib.parse.quote(queries[(i + n) % len(queries)])
            path = f"/api/v1/search?q={q}&k=10" if n % 3 else f"/api/v1/products/{urllib.parse.quote(product_ids[n % len(product_ids)])}/similar?k=5"
            request_id = f"live-nginx-{RUN}-load-{i}-{n}"
            try:
                r = https("GET", path, source=source, headers={"X-Request-ID": request_id}, timeout=30)
                outcome = r.status
            except Exception as error:  # noqa: BLE001
                outcome = repr(error)
            with lock:
                results.append((started, outcome, path))
            n += 1
            time.sleep(max(0.0, 0.125 - (time.monotonic() - started)))

    def reader(i):
        source = f"127.0.0.{70 + i}"
        n = 0
        while not stop.is_set():
            started = time.monotonic()
            path = f"/api/v1/products/{urllib.parse.quote(product_ids[n % len(product_ids)])}" if n % 2 else "/api/v1/categories"
            try:
                outcome = https("GET", path, source=source, timeout=30).status
            except Exception as error:  # noqa: BLE001
                outcome = repr(error)
            with lock:
                results.append((started, outcome, path))
            n += 1

    access_start = live.file_size(env["NGINX_ACCESS_LOG"])
    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    pid = live.kill_replica(env, 1)
    killed_at[0] = time.monotonic()
    time.sleep(4.0)
    stop.set()
    for t in threads:
        t.join()

    before = [r for r in results if r[0] < killed_at[0]]
    after = [r for r in results if r[0] >= killed_at[0]]
    failed = [r for r in results if r[1] != 200]
    checks.ok(not failed and len(after) >= 20,
              f"replica 1 (pid {pid}) SIGKILLed mid-load: {len(before)} requests before, {len(after)} after, "
              f"{len(failed)} failed", [f"{path}: {outcome}" for _, outcome, path in failed[:10]])
    lines, _ = live.log_lines(env["NGINX_ACCESS_LOG"], start=access_start)
    retried = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "," in entry.get("nginx.upstream.address", ""):
            retried.append(f"{entry.get('url.path')} {entry.get('nginx.upstream.address')} {entry.get('nginx.upstream.status')}")
    checks.ok(bool(retried), f"nginx's access log shows requests retried on the other replica ({len(retried)})", retried[:3])

    new_pid = live.restart_replica(env, 1)
    checks.ok(True, f"replica 1 restarted with its own command (pid {new_pid}, recorded in {env['_PATH']})")
    # nginx takes a replica that failed out of rotation for fail_timeout (10 s), then tries it again.
    ids = []

    def back_in_rotation():
        request_id = f"live-nginx-{RUN}-back-{len(ids)}"
        ids.append(request_id)
        https("GET", "/api/v1/categories", headers={"X-Request-ID": request_id})
        lines, _ = live.log_lines(env["VITRINE_1_LOG"])
        return any(f'"{i}"' in line for line in lines for i in ids[-20:])

    started = time.monotonic()
    live.wait_for("nginx sending requests to the restarted replica 1", back_in_rotation, 40, 0.25)
    checks.ok(True, f"nginx sends requests to the restarted replica again ({time.monotonic() - started:.1f} s after it was ready)")


for name, step in (("both replicas", both_replicas), ("TLS", tls), ("redirect", redirect),
                   ("/metrics hidden", metrics_hidden), ("gzip", compression), ("image caching", image_caching),
                   ("413", too_large), ("rate limits", rate_limits), ("failover", failover)):
    print(f"-- {name}", flush=True)
    checks.run(name, step)
checks.exit()
