"""Shared helpers of the live operations tests (deploy/live/test_*.py): the loopback stack's
settings (.local-stack/env, written by scripts/local-stack.sh up), plain HTTP(S) requests that
never follow redirects and can leave from any loopback address, Prometheus's query API, the
replicas' processes, and a small check list that prints one line per check. Stdlib only.
"""

import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def env_path():
    if os.environ.get("LOCAL_STACK_ENV"):
        return os.environ["LOCAL_STACK_ENV"]
    directory = os.environ.get("LOCAL_STACK_DIR") or os.path.join(REPO, ".local-stack")
    return os.path.join(directory, "env")


def load_env(path=None):
    """The stack's settings: KEY='VALUE' (or KEY=VALUE, export KEY=...) lines; # comments."""
    path = path or env_path()
    if not os.path.exists(path):
        sys.exit(f"no {path}: start the stack first (scripts/local-stack.sh up)")
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = _LINE.match(line.strip())
            if not m:
                continue
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[m.group(1)] = value
    values["_PATH"] = path
    return values


def set_env_value(env, key, value):
    """Rewrite KEY's line in the env file (e.g. a restarted replica's pid), and in `env`."""
    path = env["_PATH"]
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    done = False
    for i, line in enumerate(lines):
        m = _LINE.match(line.strip())
        if m and m.group(1) == key:
            lines[i] = f"{key}='{value}'\n"
            done = True
    if not done:
        lines.append(f"{key}='{value}'\n")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(lines)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    env[key] = str(value)


# ---------------------------------------------------------------------------------------- checks
class Checks:
    """Prints `ok`/`FAIL` lines; `exit()` ends the test with 1 when anything failed."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.started = time.monotonic()

    def ok(self, condition, what, details=()):
        print(("ok    " if condition else "FAIL  ") + what, flush=True)
        for line in details:
            print("      " + str(line), flush=True)
        if not condition:
            self.failures.append(what)
        return condition

    def note(self, what, details=()):
        print("note  " + what, flush=True)
        for line in details:
            print("      " + str(line), flush=True)

    def run(self, what, function):
        """Run one group of checks; an exception fails it (with its message) instead of the test."""
        try:
            function()
        except Exception as error:  # noqa: BLE001 (a test step that broke is a failed check)
            self.ok(False, f"{what}: {type(error).__name__}: {error}")

    def exit(self):
        seconds = time.monotonic() - self.started
        if self.failures:
            print(f"{self.name}: {len(self.failures)} check(s) failed in {seconds:.0f} s:", flush=True)
            for what in self.failures:
                print(f"  - {what}", flush=True)
            sys.exit(1)
        print(f"{self.name}: all checks passed in {seconds:.0f} s", flush=True)
        sys.exit(0)


# ---------------------------------------------------------------------------------------- HTTP
class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names -> value (last one wins), see header_list
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def tls_context(cafile=None):
    """Verifies against `cafile` (the stack's self-signed certificate) when given."""
    return ssl.create_default_context(cafile=cafile)


def request(method, url, body=None, headers=None, source=None, context=None, timeout=30):
    """One request on a fresh connection, redirects not followed. `source` is the loopback
    address the connection leaves from (127.0.0.0/8 all reaches 127.0.0.1): nginx keys its rate
    limits by client address, so each load thread can be a client of its own."""
    parts = urllib.parse.urlsplit(url)
    source_address = (source, 0) if source else None
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout,
                                           context=context, source_address=source_address)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout,
                                          source_address=source_address)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def get(url, **kwargs):
    return request("GET", url, **kwargs)


def get_json(url, **kwargs):
    response = get(url, **kwargs)
    if response.status != 200:
        raise RuntimeError(f"GET {url} answered {response.status}: {response.body[:300]!r}")
    return response.json()


def wait_for(what, predicate, timeout, interval=0.5):
    """Poll predicate() until it returns something truthy; raise naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 (retried until the deadline)
            last_error = error
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last_error})" if last_error else ""))
        time.sleep(interval)


# ---------------------------------------------------------------------------------------- Prometheus
def prom(env, path, **params):
    url = f"{env['PROMETHEUS_URL']}{path}?{urllib.parse.urlencode(params)}"
    response = get(url, timeout=30)
    try:
        data = response.json()
    except ValueError:
        raise RuntimeError(f"Prometheus {path} answered {response.status}: {response.body[:300]!r}")
    if response.status != 200 or data.get("status") != "success":
        raise PromError(data.get("errorType", str(response.status)), data.get("error", response.body[:300]))
    return data["data"]


class PromError(Exception):
    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def query(env, expr, at=None):
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    return prom(env, "/api/v1/query", **params)["result"]


def query_range(env, expr, start, end, step):
    return prom(env, "/api/v1/query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=f"{step}s")["result"]


# ---------------------------------------------------------------------------------------- replicas
def alive(pid):
    """Running (a zombie nobody reaped yet counts as gone)."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, ValueError, IndexError):
        return False


def replica_pid(env, n):
    with open(env[f"VITRINE_{n}_PID_FILE"], encoding="utf-8") as f:
        return int(f.read().strip())


def kill_replica(env, n, sig=signal.SIGKILL, timeout=15):
    """Signal replica n by its recorded pid (checked to be that replica), and for SIGKILL/SIGTERM
    wait until it is gone."""
    pid = replica_pid(env, n)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    if env["LOCAL_STACK_DIR"] not in cmdline or " serve " not in cmdline:
        raise RuntimeError(f"pid {pid} of replica {n} is not the replica: {cmdline[:200]}")
    os.kill(pid, sig)
    if sig in (signal.SIGKILL, signal.SIGTERM):
        wait_for(f"replica {n} (pid {pid}) to exit", lambda: not alive(pid), timeout, 0.05)
    return pid


def restart_replica(env, n, timeout=120):
    """Start replica n again with the script the stack started it with; wait until /readyz is
    200; record its new pid in the env file. Returns the pid."""
    old = replica_pid(env, n)
    if alive(old):
        raise RuntimeError(f"replica {n} still runs as pid {old}")
    subprocess.Popen([env[f"VITRINE_{n}_START"]], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    pid = wait_for(f"replica {n} to record its new pid", lambda: (lambda p: p if p != old else None)(replica_pid(env, n)), 15, 0.05)
    url = env[f"VITRINE_{n}_URL"] + "/readyz"
    wait_for(f"restarted replica {n} ({url}) to answer 200",
             lambda: alive(pid) and get(url, timeout=3).status == 200, timeout, 0.2)
    set_env_value(env, f"VITRINE_{n}_PID", pid)
    return pid


def log_lines(path, needle=None, start=0):
    """Lines of a log file from byte offset `start` (holding `needle`, when given), and the end offset."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    lines = data.decode("utf-8", errors="replace").splitlines()
    if needle is not None:
        lines = [line for line in lines if needle in line]
    return lines, start + len(data)


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
