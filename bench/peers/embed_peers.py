"""CLIP embedding throughput of Vitrine next to its peers, PyTorch and ONNX Runtime.

The question this answers: on this CPU, with the same checkpoint and the same images, how many
image embeddings per second does each engine produce, and how long does a short text query take?

Method
------
Every engine runs the same Hugging Face CLIP checkpoint (``--model``) on the same images (the
parity photos under ``Tests/Fixtures/images`` by default), one engine after another in one
invocation, never two at once, so that they share the machine's state but not its cores.

* **Inputs.** The images are decoded and preprocessed once, by the transformers Pillow image
  processor (``AutoImageProcessor.from_pretrained(dir, backend="pil")``), into one array of pixel
  values that both Python engines read. A batch of size B is images ``i % n`` for ``i < B``, the
  way ``vitrine-bench embed`` builds its batches from its own preprocessing of the same files.
  Images smaller than 32×32 are left out, as Vitrine's bench leaves them out.
* **Images/s (encode only).** For each batch size: one warm-up call, then calls back to back
  until ``--seconds`` have passed (at least one call); the rate is images done ÷ elapsed time.
  Pixel values are already in memory, so this times the vision tower and projection alone.
* **Rounds.** ``--rounds N`` runs the whole sequence of engines N times, interleaved in time,
  and keeps each configuration's best, leaving out rounds that other processes disturbed (see
  ``merge_rounds``): quiet runs minutes apart differed by 10–25% per configuration here, so
  one round can favour or penalize an engine by luck.
* **Text latency.** Eight short catalog queries (≤ 16 tokens, the list ``vitrine-bench embed``
  uses), batch 1, tokenization included, one after another for ``--seconds`` after one warm-up
  pass; p50 is the middle sorted latency, p99 the one at index ⌊0.99·n⌋ (Vitrine's definitions).
* **PyTorch.** ``CLIPModel.from_pretrained`` in ``inference_mode`` with ``torch.set_num_threads(2)``,
  ``get_image_features`` / ``get_text_features``. Both attention implementations are measured,
  ``eager`` and the default ``sdpa``, each in its own process; the faster is the "PyTorch" that
  the ratios use. The eager process also times the Pillow preprocessing alone on one core.
* **ONNX Runtime.** The vision tower + projection and the text tower + projection are exported
  from the same checkpoint with ``torch.onnx.export`` (eager attention, dynamic batch axis; the
  text graph takes ``input_ids`` only, which for one unpadded query is what the attention mask
  would say). The export is checked against PyTorch's output and cached under
  ``bench/peers/.cache/onnx/``, keyed by the checkpoint files' sizes and modification times and
  the torch version. Sessions use ``intra_op_num_threads=2``, ``inter_op_num_threads=1``,
  sequential execution and all graph optimizations. This process imports neither torch nor
  transformers: it tokenizes with the ``tokenizers`` library and the checkpoint's own
  tokenizer, saved as ``tokenizer.json`` next to the export.
* **ONNX Runtime int8** (when Vitrine's int8 is measured): ONNX Runtime's own dynamic
  quantization of that export, ``quantize_dynamic`` with QInt8 weights per output channel, made
  once next to it; same sessions. Its cosine to its own fp32 graph on the same photos and queries
  is reported beside Vitrine int8's, and Vitrine int8's ratio to it is the fair int8 comparison.
* **Vitrine.** ``vitrine-bench embed --model DIR --precision P --batch ... --seconds S --threads 2
  --json`` on the same image files, once per precision of ``--precisions`` (default fp32 and int8;
  int8 is Vitrine's own reduced precision; the fp32 peers and ONNX Runtime int8 are its peers), each a row and each with its ratios. Its sgemm probe (768³, 2 threads, best of 5) and the model's FLOPs per
  image give the roofline, the rate at which all of an image's FLOPs would run at sgemm speed;
  every engine's best rate is also shown as a fraction of it. The probe is short (a few ms),
  so the roofline is an estimate that moves by 10–20% between runs; an engine can pass it.
* **Memory.** Each engine runs in its own process; its peak resident set is that process's
  ``ru_maxrss`` (for Python, the interpreter and libraries count too, as they do in a service).
* **Machine.** CPU model and count from ``lscpu``, and the load average when the run starts: a
  1-minute load above 0.5 means other processes were using the cores, and the numbers are low.
  Because the load average lags and can't tell one process from another, each engine's row
  also shows the CPU other processes took while that engine ran (see ``OtherLoad``). PyTorch
  is the most sensitive to such sharing (its OpenMP threads meet at a barrier after every
  operator), so a disturbed run understates it most and flatters the ratios against it.

Results are printed as one Markdown table and written as JSON to
``bench/peers/.cache/embed-results.json``. The ``bench/peers/embed.sh`` wrapper creates the
virtual environment and builds Vitrine first; run this file directly only from that venv.

Subcommands (``run`` is the one to use; the others are the worker processes it starts)::

    embed_peers.py run --model DIR [--batch 1,8,32,64] [--seconds S] [--rounds N] [--vitrine BIN]
    embed_peers.py report [--results FILE]   (the BENCHMARKS.md section of the last run)
    embed_peers.py prepare|torch|ort ...   (internal)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = HERE / ".cache"

#: The queries of ``vitrine-bench embed`` (Sources/vitrine-bench/BenchEmbedCommand.swift), in its order.
QUERIES = [
    "red floral summer dress",
    "black leather ankle boots",
    "white sneakers",
    "men's slim fit chinos in navy blue",
    "oversized wool coat with belt",
    "striped cotton t-shirt",
    "silver hoop earrings",
    "denim jacket with fur collar",
]

#: Bump when the exported graphs change, so that cached exports are made again.
EXPORT_FORMAT = 3

#: Above this CPU use by other processes (% of one core) while an engine ran, its numbers are disturbed.
DISTURBED_PERCENT = 10

#: Minimum side of a benchmark image, as in ``vitrine-bench embed``.
MIN_SIDE = 32


class StepError(Exception):
    """A step failed for a reason the user can act on; printed as one line, no traceback."""


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss_bytes() -> int:
    """Peak resident set of this process (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def percentiles(latencies_ms: list[float]) -> tuple[float, float]:
    """p50 and p99 with the index rule of ``vitrine-bench embed``."""
    ordered = sorted(latencies_ms)
    n = len(ordered)
    return ordered[n // 2], ordered[min(n - 1, n * 99 // 100)]


def batch_indices(size: int, count: int) -> list[int]:
    """Image ``i % count`` for each slot ``i`` of a batch of ``size``."""
    return [i % count for i in range(size)]


def timed_rate(call, size: int, seconds: float) -> float:
    """Images/s of ``call`` (which embeds one batch of ``size``): one warm-up, then ``seconds``."""
    call()
    done = 0
    start = time.perf_counter()
    while True:
        call()
        done += size
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def timed_queries(embed_one, seconds: float) -> dict:
    """Latency of ``embed_one(query)`` over the queries, round robin, after one warm-up pass."""
    for query in QUERIES:
        embed_one(query)
    latencies = []
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds or not latencies:
        t0 = time.perf_counter()
        embed_one(QUERIES[i % len(QUERIES)])
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
    p50, p99 = percentiles(latencies)
    return {"textP50Milliseconds": p50, "textP99Milliseconds": p99, "textQueries": len(latencies)}


def worker_main(function, args) -> None:
    """Run a worker step; on failure print one clear line (the traceback goes to a log file)."""
    try:
        result = function(args)
    except StepError as error:
        log(f"error: {error}")
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 - turned into one line plus a log file
        CACHE.mkdir(parents=True, exist_ok=True)
        trace = CACHE / f"{args.step}-traceback.log"
        trace.write_text(traceback.format_exc())
        log(f"error: {args.step} failed: {type(error).__name__}: {error} (traceback in {trace})")
        sys.exit(1)
    result["peakResidentBytes"] = peak_rss_bytes()
    Path(args.out).write_text(json.dumps(result, indent=1))


# --------------------------------------------------------------------------------------------
# Worker: prepare (pixel values, tokenizer, ONNX export) — torch + transformers
# --------------------------------------------------------------------------------------------

def checkpoint_key(model: Path, torch_version: str) -> str:
    """A key that changes when the checkpoint's files or the exporter change."""
    parts = [f"format={EXPORT_FORMAT}", f"torch={torch_version}"]
    for path in sorted(model.iterdir()):
        if path.is_file():
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def load_images(paths: list[str]):
    """The benchmark images, decoded by Pillow (fully loaded, so later timings exclude decoding)."""
    from PIL import Image

    images = []
    for path in paths:
        with Image.open(path) as image:
            image.load()
            images.append(image.copy())
    return images


def quiet_transformers() -> None:
    """No progress bars or advice on stderr: the workers' output is the benchmark's log."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def step_prepare(args) -> dict:
    import numpy as np
    import torch
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    quiet_transformers()
    model_dir = Path(args.model)
    processor = AutoImageProcessor.from_pretrained(model_dir, backend="pil")
    images = load_images(args.images)
    pixels = processor(images=images, return_tensors="np")["pixel_values"].astype(np.float32)
    np.save(args.pixels, pixels)
    log(f"prepare: {len(images)} images → pixel values {tuple(pixels.shape)}")

    export_dir = CACHE / "onnx" / checkpoint_key(model_dir, torch.__version__)
    if (export_dir / "done").exists():
        log(f"prepare: ONNX export cached in {export_dir.relative_to(ROOT)}")
        quantize_exports(export_dir)
        return {"exportDir": str(export_dir), "exportCached": True}

    tmp = export_dir.with_name(export_dir.name + ".tmp")
    if tmp.exists():
        import shutil
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if not hasattr(tokenizer, "backend_tokenizer"):
        raise StepError(f"the tokenizer of {model_dir} has no tokenizers backend to save for ONNX Runtime")
    tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))

    torch.set_num_threads(args.threads)
    log("prepare: exporting the vision and text towers to ONNX (once per checkpoint, a minute or two)")
    model = CLIPModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    vision_tower, text_tower = tower_modules()
    vision, text = vision_tower(model).eval(), text_tower(model).eval()
    sample = torch.from_numpy(pixels[:2])
    ids = torch.tensor([tokenizer(QUERIES[3])["input_ids"]], dtype=torch.long)
    export(vision, (sample,), tmp / "vision.onnx", ["pixel_values"], {"pixel_values": {0: "batch"}})
    export(text, (ids,), tmp / "text.onnx", ["input_ids"], {"input_ids": {0: "batch", 1: "sequence"}})

    # The exported graphs must compute what PyTorch computes, or the comparison is meaningless.
    import onnxruntime as ort

    # Other shapes than the export's samples: 3 images, and a query of another length.
    short = torch.tensor([tokenizer(QUERIES[2])["input_ids"]], dtype=torch.long)
    vision_session = ort.InferenceSession(str(tmp / "vision.onnx"), providers=["CPUExecutionProvider"])
    text_session = ort.InferenceSession(str(tmp / "text.onnx"), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        checks = [("image", vision(torch.from_numpy(pixels[:3])).numpy(),
                   vision_session.run(None, {"pixel_values": pixels[:3]})[0])]
        checks += [("text", text(t).numpy(), text_session.run(None, {"input_ids": t.numpy()})[0]) for t in (ids, short)]
    for name, want, got in checks:
        cosine = float(np.min(np.sum(want * got, -1) / (np.linalg.norm(want, axis=-1) * np.linalg.norm(got, axis=-1))))
        if got.shape != want.shape or cosine < 0.9999:
            raise StepError(f"the ONNX {name} graph disagrees with PyTorch (shape {got.shape} vs "
                            f"{want.shape}, min cosine {cosine:.6f})")
        log(f"prepare: ONNX {name} embeddings match PyTorch (min cosine {cosine:.7f})")
    (tmp / "done").write_text(json.dumps({"model": str(model_dir.absolute()), "torch": torch.__version__}))
    if export_dir.exists():
        import shutil
        shutil.rmtree(export_dir)
    tmp.rename(export_dir)
    quantize_exports(export_dir)
    # Earlier exports of this same checkpoint directory are stale now (~600 MB each for ViT-B/32).
    for other in export_dir.parent.iterdir():
        marker = other / "done"
        if other != export_dir and marker.exists() and json.loads(marker.read_text()).get("model") == str(model_dir):
            import shutil
            shutil.rmtree(other, ignore_errors=True)
    return {"exportDir": str(export_dir), "exportCached": False}


def quantize_exports(export_dir: Path) -> None:
    """ONNX Runtime's own int8 of both towers, the fair peer of Vitrine's int8:
    ``quantize_dynamic`` with signed 8-bit weights per output channel (QInt8, per_channel=True),
    activations quantized on the fly per tensor. Made once per export, next to it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    for name in ("vision", "text"):
        target = export_dir / f"{name}-int8.onnx"
        if target.exists():
            continue
        partial = export_dir / f"{name}-int8.onnx.tmp"
        quantize_dynamic(str(export_dir / f"{name}.onnx"), str(partial), weight_type=QuantType.QInt8, per_channel=True)
        partial.rename(target)
        log(f"prepare: ONNX Runtime int8 (quantize_dynamic, QInt8 per channel) of the {name} tower")


def tower_modules():
    """The two exported module classes, defined here so that the ORT worker never imports torch."""
    import torch

    class VisionTower(torch.nn.Module):
        """Pixel values → projected image embedding (what ``get_image_features`` returns)."""

        def __init__(self, clip):
            super().__init__()
            self.vision_model, self.visual_projection = clip.vision_model, clip.visual_projection

        def forward(self, pixel_values):
            return self.visual_projection(self.vision_model(pixel_values=pixel_values).pooler_output)

    class TextTower(torch.nn.Module):
        """Token ids of unpadded queries → projected text embedding (``get_text_features``)."""

        def __init__(self, clip):
            super().__init__()
            self.text_model, self.text_projection = clip.text_model, clip.text_projection

        def forward(self, input_ids):
            return self.text_projection(self.text_model(input_ids=input_ids).pooler_output)

    return VisionTower, TextTower


def export(module, inputs, path: Path, input_names: list[str], dynamic_axes: dict) -> None:
    """``torch.onnx.export`` with a dynamic batch axis; any exporter error becomes one line."""
    import torch
    import warnings

    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, inputs, str(path), input_names=input_names, output_names=["embedding"],
                              dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)
    except Exception as error:  # noqa: BLE001
        raise StepError(f"ONNX export of {path.stem} failed: {type(error).__name__}: "
                        f"{str(error).strip().splitlines()[0] if str(error).strip() else ''}") from error
    if not path.exists():
        raise StepError(f"ONNX export of {path.stem} wrote nothing to {path}")


# --------------------------------------------------------------------------------------------
# Worker: PyTorch
# --------------------------------------------------------------------------------------------

def step_torch(args) -> dict:
    import numpy as np
    import torch
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    quiet_transformers()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model_dir = Path(args.model)
    model = CLIPModel.from_pretrained(model_dir, attn_implementation=args.attn).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pixels = torch.from_numpy(np.load(args.pixels))
    result = {"engine": f"PyTorch ({args.attn})", "attention": args.attn, "torch": torch.__version__,
              "images": []}

    if args.preprocess:
        # Pillow preprocessing alone, one image per call, on one core (Pillow's resize is single-threaded).
        processor = AutoImageProcessor.from_pretrained(model_dir, backend="pil")
        images = load_images(args.images)
        processor(images=images[:1], return_tensors="np")
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds or done == 0:
            for image in images:
                processor(images=[image], return_tensors="np")
            done += len(images)
        result["preprocessImagesPerSecond"] = done / (time.perf_counter() - start)
        log(f"{result['engine']}: Pillow preprocessing {result['preprocessImagesPerSecond']:.1f} images/s (one core)")

    with torch.inference_mode():
        for size in args.batch:
            batch = pixels[batch_indices(size, pixels.shape[0])].contiguous()
            rate = timed_rate(lambda: model.get_image_features(pixel_values=batch).pooler_output, size, args.seconds)
            result["images"].append({"batch": size, "imagesPerSecond": rate})
            log(f"{result['engine']}: batch {size}: {rate:.2f} images/s")

        def embed_query(query: str):
            tokens = tokenizer([query], return_tensors="pt")
            return model.get_text_features(**tokens).pooler_output

        result.update(timed_queries(embed_query, args.seconds))
    log(f"{result['engine']}: text p50 {result['textP50Milliseconds']:.2f} ms, p99 {result['textP99Milliseconds']:.2f} ms")
    return result


# --------------------------------------------------------------------------------------------
# Worker: ONNX Runtime (no torch, no transformers in this process)
# --------------------------------------------------------------------------------------------

def step_ort(args) -> dict:
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    export_dir = Path(args.export_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL

    def session(name: str):
        try:
            return ort.InferenceSession(str(export_dir / name), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001
            raise StepError(f"ONNX Runtime could not load {export_dir / name}: {error}") from error

    suffix = "-int8" if args.int8 else ""
    engine = "ONNX Runtime int8" if args.int8 else "ONNX Runtime"
    vision, text = session(f"vision{suffix}.onnx"), session(f"text{suffix}.onnx")
    tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
    pixels = np.load(args.pixels)
    result = {"engine": engine, "onnxruntime": ort.__version__, "images": []}
    if args.int8:
        # How far its int8 moves the embeddings: cosine to its own fp32 graph on every photo and query.
        def cosines(a, b):
            return np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))

        fp32_vision, fp32_text = session("vision.onnx"), session("text.onnx")
        image = cosines(vision.run(None, {"pixel_values": pixels})[0], fp32_vision.run(None, {"pixel_values": pixels})[0])
        texts = [np.asarray([tokenizer.encode(q).ids], dtype=np.int64) for q in QUERIES]
        words = np.concatenate([cosines(text.run(None, {"input_ids": t})[0], fp32_text.run(None, {"input_ids": t})[0]) for t in texts])
        result["imageCosineToFP32"] = {"min": float(image.min()), "mean": float(image.mean())}
        result["textCosineToFP32"] = {"min": float(words.min()), "mean": float(words.mean())}
        log(f"{engine}: cosine to its fp32 graph, images min {image.min():.6f}, texts min {words.min():.6f}")
        del fp32_vision, fp32_text

    for size in args.batch:
        batch = np.ascontiguousarray(pixels[batch_indices(size, pixels.shape[0])])
        rate = timed_rate(lambda: vision.run(None, {"pixel_values": batch}), size, args.seconds)
        result["images"].append({"batch": size, "imagesPerSecond": rate})
        log(f"{engine}: batch {size}: {rate:.2f} images/s")

    def embed_query(query: str):
        ids = np.asarray([tokenizer.encode(query).ids], dtype=np.int64)
        return text.run(None, {"input_ids": ids})[0]

    result.update(timed_queries(embed_query, args.seconds))
    log(f"{engine}: text p50 {result['textP50Milliseconds']:.2f} ms, p99 {result['textP99Milliseconds']:.2f} ms")
    return result


# --------------------------------------------------------------------------------------------
# Orchestrator
# --------------------------------------------------------------------------------------------

def machine() -> dict:
    """CPU model, CPU count and load average at the start of the run."""
    model = platform.processor() or "unknown"
    family_model: list[str] = []
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith(("CPU family:", "Model:")):  # under a hypervisor the name can be generic
                family_model.append(line.split(":", 1)[1].strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    if len(family_model) == 2:
        model += f" (family {family_model[0]}, model {family_model[1]})"
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    isa = [name for name in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16") if f" {name}" in flags]
    load1, load5, load15 = os.getloadavg()
    return {"cpu": model, "cpus": os.cpu_count(), "isa": isa, "load": [load1, load5, load15],
            "kernel": platform.release(), "python": platform.python_version()}


def benchmark_images(explicit: list[str]) -> list[str]:
    """The image files: those given, or the parity photos listed in Tests/Fixtures."""
    from PIL import Image

    if explicit:
        paths = []
        for item in explicit:
            path = Path(item)
            if path.is_dir():
                paths += sorted(p for p in path.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
            elif path.is_file():
                paths.append(path)
            else:
                raise StepError(f"no such image file or directory: {item}")
    else:
        listing = ROOT / "Tests/Fixtures/embeddings/images.json"
        if not listing.exists():
            raise StepError(f"{listing} is missing; pass --images")
        paths = [ROOT / "Tests/Fixtures/images" / name for name in json.loads(listing.read_text())]
    kept = []
    for path in paths:
        try:
            with Image.open(path) as image:
                if min(image.size) >= MIN_SIDE:
                    kept.append(str(path.resolve()))
        except OSError as error:
            raise StepError(f"cannot read image {path}: {error}") from error
    if not kept:
        raise StepError("no usable images (each must be at least 32×32)")
    return kept


class OtherLoad:
    """CPU time that processes other than the benchmark used while one engine was measured.

    The load average lags by a minute and counts the benchmark itself, so it can't say whether
    an engine shared its cores. This can: the machine's busy time (``/proc/stat``) minus the CPU
    time of the engine's process (``RUSAGE_CHILDREN``), over the same wall time, in percent of
    one core. Steal (time the hypervisor gave this VM's CPUs to someone else) is kept apart.
    """

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float, float]:
        tick = os.sysconf("SC_CLK_TCK")
        busy = steal = 0.0
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
            # user nice system idle iowait irq softirq steal ...
            busy = sum(fields[i] for i in (0, 1, 2, 5, 6)) / tick
            steal = (fields[7] if len(fields) > 7 else 0) / tick
        except (OSError, ValueError, IndexError):
            pass
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.monotonic(), busy, steal, children.ru_utime + children.ru_stime

    def stop(self) -> dict:
        wall0, busy0, steal0, own0 = self.start
        wall1, busy1, steal1, own1 = self._sample()
        wall = max(wall1 - wall0, 1e-9)
        others = max(0.0, (busy1 - busy0) - (own1 - own0))
        return {"wallSeconds": wall, "otherCpuPercent": 100 * others / wall,
                "stealPercent": 100 * (steal1 - steal0) / wall}


def run_worker(name: str, step: str, extra: list[str], common: argparse.Namespace) -> dict | None:
    """Run one worker in its own process; its result, or None (with the reason logged) on failure."""
    out = CACHE / f"{name}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), step, "--model", common.model,
               "--threads", str(common.threads), "--seconds", str(common.seconds),
               "--batch", ",".join(map(str, common.batch)), "--pixels", str(common.pixels),
               "--out", str(out), "--images", *common.image_files, *extra]
    env = dict(os.environ, OMP_NUM_THREADS=str(common.threads), TOKENIZERS_PARALLELISM="false",
               TRANSFORMERS_VERBOSITY="error", PYTHONWARNINGS="ignore")
    watch = OtherLoad()
    status = subprocess.run(command, env=env).returncode
    load = watch.stop()
    if status != 0 or not out.exists():
        log(f"warning: {name} failed (exit {status}); its row is left empty")
        return None
    result = json.loads(out.read_text())
    if step != "prepare":  # preparing is not measured
        result["otherLoad"] = report_other_load(result.get("engine", name), load)
    return result


def report_other_load(engine: str, load: dict) -> dict:
    if load["otherCpuPercent"] > DISTURBED_PERCENT or load["stealPercent"] > 5:
        log(f"warning: while {engine} ran, other processes used {load['otherCpuPercent']:.0f}% of a core "
            f"(steal {load['stealPercent']:.0f}%): its numbers are disturbed")
    return load


def run_vitrine(common: argparse.Namespace, precision: str) -> dict | None:
    command = [str(Path(common.vitrine).with_name("vitrine-bench")), "embed", "--model", common.model, "--precision", precision, "--batch",
               ",".join(map(str, common.batch)), "--seconds", str(common.seconds),
               "--threads", str(common.threads), "--json"]
    for path in common.image_files:
        command += ["--images", path]
    watch = OtherLoad()
    try:
        completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    except OSError as error:
        log(f"warning: cannot run {common.vitrine}: {error}")
        return None
    if completed.returncode != 0:
        log(f"warning: vitrine-bench embed failed (exit {completed.returncode}); its row is left empty")
        return None
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        log("warning: vitrine-bench embed printed no JSON; its row is left empty")
        return None
    report["engine"] = f"Vitrine {precision}"
    report["otherLoad"] = report_other_load(f"Vitrine {precision}", watch.stop())
    return report


def merge_rounds(runs: list[dict | None]) -> dict | None:
    """One engine's rounds as one result: the best of each measurement, as the sgemm probe does.

    Rounds during which other processes took more than ``DISTURBED_PERCENT`` of a core are
    dropped, unless no round was quiet. Interference only ever slows a configuration down, so
    across rounds the highest rate (and the lowest time) is the closest to what the engine does
    on a quiet machine. Text latency
    comes from the round with the lowest p50, so p50 and p99 stay a pair; memory and other
    processes' CPU are the worst seen. Every round stays in ``rounds`` for the record.
    """
    runs = [run for run in runs if run]
    if len(runs) <= 1:
        return runs[0] if runs else None
    everything = runs
    quiet = [run for run in runs if (run.get("otherLoad") or {}).get("otherCpuPercent", 0) <= DISTURBED_PERCENT]
    if quiet:  # rounds that shared the cores with other processes count only if no round was quiet
        runs = quiet
    texted = [run for run in runs if run.get("textP50Milliseconds") is not None]
    merged = dict(min(texted, key=lambda run: run["textP50Milliseconds"]) if texted else runs[0])
    batches = sorted({row["batch"] for run in runs for row in run.get("images", [])})
    merged["images"] = [dict(max((row for run in runs for row in run.get("images", []) if row["batch"] == size),
                                 key=lambda row: row["imagesPerSecond"])) for size in batches]
    for key, pick in (("sgemmGFLOPS", max), ("fmaPeakGFLOPS", max), ("preprocessImagesPerSecond", max), ("peakResidentBytes", max),
                      ("preprocessMillisecondsPerImage", min), ("decodeMillisecondsPerImage", min)):
        values = [run[key] for run in runs if run.get(key) is not None]
        if values:
            merged[key] = pick(values)
    loads = [run["otherLoad"] for run in runs if run.get("otherLoad")]
    if loads:
        merged["otherLoad"] = max(loads, key=lambda load: load["otherCpuPercent"])
    if merged.get("sgemmGFLOPS") and merged.get("imageGFLOP"):
        merged["rooflineImagesPerSecond"] = merged["sgemmGFLOPS"] / merged["imageGFLOP"]
        for row in merged["images"]:
            row["rooflineFraction"] = row["imagesPerSecond"] / merged["rooflineImagesPerSecond"]
    if merged.get("fmaPeakGFLOPS") and merged.get("imageGFLOP"):
        merged["fmaCeilingImagesPerSecond"] = merged["fmaPeakGFLOPS"] / merged["imageGFLOP"]
    merged["rounds"] = [{key: value for key, value in run.items() if key != "rounds"} for run in everything]
    merged["roundsUsed"] = len(runs)
    return merged


def best(result: dict | None) -> dict | None:
    if not result or not result.get("images"):
        return None
    return max(result["images"], key=lambda row: row["imagesPerSecond"])


def summarize(results: dict, common: argparse.Namespace) -> dict:
    """Best batch per engine, the faster PyTorch, and each Vitrine precision's ratios to its peers
    (``vitrineVsOnnxRuntime`` and ``vitrineVsPyTorch`` are fp32's, ``ratios`` every precision's)."""
    vitrine = results.get("vitrine")
    torch_runs = [r for r in (results.get("torch_eager"), results.get("torch_sdpa")) if best(r)]
    pytorch = max(torch_runs, key=lambda r: best(r)["imagesPerSecond"]) if torch_runs else None
    summary = {"pytorch": pytorch["attention"] if pytorch else None}
    roofline = vitrine.get("rooflineImagesPerSecond") if vitrine else None
    summary["rooflineImagesPerSecond"] = roofline
    summary["sgemmGFLOPS"] = vitrine.get("sgemmGFLOPS") if vitrine else None
    summary["fmaPeakGFLOPS"] = vitrine.get("fmaPeakGFLOPS") if vitrine else None
    summary["fmaCeilingImagesPerSecond"] = vitrine.get("fmaCeilingImagesPerSecond") if vitrine else None
    if best(vitrine):
        v = best(vitrine)["imagesPerSecond"]
        if best(results.get("ort")):
            summary["vitrineVsOnnxRuntime"] = v / best(results["ort"])["imagesPerSecond"]
        if pytorch:
            summary["vitrineVsPyTorch"] = v / best(pytorch)["imagesPerSecond"]
    summary["ratios"] = {}
    for key in results:
        if not is_vitrine(key) or not best(results[key]):
            continue
        v = best(results[key])["imagesPerSecond"]
        ratios = {}
        if best(results.get("ort")):
            ratios["onnxRuntime"] = v / best(results["ort"])["imagesPerSecond"]
        if best(results.get("ort_int8")) and vitrine_precision(key) == "int8":
            ratios["onnxRuntimeInt8"] = v / best(results["ort_int8"])["imagesPerSecond"]
            text, peer = results[key].get("textP50Milliseconds"), results["ort_int8"].get("textP50Milliseconds")
            if text and peer:
                ratios["onnxRuntimeInt8TextP50"] = peer / text
        if pytorch:
            ratios["pyTorch"] = v / best(pytorch)["imagesPerSecond"]
        summary["ratios"][vitrine_precision(key)] = ratios
    return summary


PEERS = {"torch_eager": "PyTorch eager", "torch_sdpa": "PyTorch sdpa", "ort": "ONNX Runtime", "ort_int8": "ONNX Runtime int8"}


def vitrine_key(precision: str) -> str:
    """Results key of Vitrine at a precision: ``vitrine`` for fp32 (the roofline's), ``vitrine_int8``…"""
    return "vitrine" if precision == "fp32" else f"vitrine_{precision}"


def is_vitrine(key: str) -> bool:
    return key == "vitrine" or key.startswith("vitrine_")


def vitrine_precision(key: str) -> str:
    return "fp32" if key == "vitrine" else key.removeprefix("vitrine_")


def engines(precisions: list[str]) -> dict[str, str]:
    """Every row of a run, in table order: the peers (ONNX Runtime's int8 when Vitrine's is
    measured), then Vitrine at each precision."""
    peers = {key: name for key, name in PEERS.items() if key != "ort_int8" or "int8" in precisions}
    return {**peers, **{vitrine_key(p): f"Vitrine {p}" for p in precisions}}


def engine_name(key: str) -> str:
    return PEERS.get(key) or (f"Vitrine {vitrine_precision(key)}" if is_vitrine(key) else key)


def markdown_table(results: dict, summary: dict, batches: list[int]) -> str:
    """One table: a row per engine, images/s per batch, best batch, ratios, text latency, memory."""
    roofline = summary.get("rooflineImagesPerSecond")
    vitrines = [(vitrine_precision(key), best(result)) for key, result in results.items() if is_vitrine(key) and best(result)]
    header = (["engine"] + [f"b={b} img/s" for b in batches]
              + ["best (batch)", "% roofline", "Vitrine ×", "text p50 ms", "text p99 ms", "peak RSS MB",
                 "others' CPU"])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|"]
    for key in results:
        name = engine_name(key)
        result = results.get(key)
        if key.startswith("torch") and summary.get("pytorch") == key.split("_")[1]:
            name += " ◀"
        if not result:
            lines.append("| " + " | ".join([name, "failed"] + [""] * (len(header) - 2)) + " |")
            continue
        rates = {row["batch"]: row["imagesPerSecond"] for row in result.get("images", [])}
        top = best(result)
        cells = [name] + [f"{rates[b]:.2f}" if b in rates else "–" for b in batches]
        cells.append(f"**{top['imagesPerSecond']:.2f}** ({top['batch']})" if top else "–")
        cells.append(f"{100 * top['imagesPerSecond'] / roofline:.0f}%" if top and roofline else "–")
        cells.append(" · ".join(f"{precision} {row['imagesPerSecond'] / top['imagesPerSecond']:.2f}×" for precision, row in vitrines)
                     if top and vitrines and not is_vitrine(key) else "–")
        for field in ("textP50Milliseconds", "textP99Milliseconds"):
            cells.append(f"{result[field]:.1f}" if result.get(field) is not None else "–")
        cells.append(f"{result['peakResidentBytes'] / 1e6:.0f}" if result.get("peakResidentBytes") else "–")
        other = result.get("otherLoad")
        cells.append(f"{other['otherCpuPercent']:.0f}%" if other else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def footer(report: dict) -> str:
    m, s, r = report["machine"], report["summary"], report["results"]
    lines = [f"machine: {m['cpu']}, {m['cpus']} CPUs ({', '.join(m['isa'])}); load average at start "
             f"{m['load'][0]:.2f} / {m['load'][1]:.2f} / {m['load'][2]:.2f} (1/5/15 min)"]
    if s.get("sgemmGFLOPS"):
        vitrine = r.get("vitrine") or {}
        lines.append(f"roofline: sgemm 768³ on {report['threads']} threads {s['sgemmGFLOPS']:.1f} GFLOP/s ÷ "
                     f"{vitrine.get('imageGFLOP', 0):.2f} GFLOP per image = {s['rooflineImagesPerSecond']:.1f} images/s")
    if s.get("fmaCeilingImagesPerSecond"):
        ceiling = s["fmaCeilingImagesPerSecond"]
        fractions = [f"{engine_name(key)} {100 * best(result)['imagesPerSecond'] / ceiling:.0f}%"
                     for key, result in r.items() if key not in ("vitrine_int8", "vitrine_bf16", "ort_int8") and best(result)]
        lines.append(f"fp32 ceiling: 256-bit FMAs alone on {report['threads']} threads {s['fmaPeakGFLOPS']:.1f} GFLOP/s = "
                     f"{ceiling:.2f} images/s; the fp32 engines reach " + ", ".join(fractions))
    for precision, ratios in (s.get("ratios") or {}).items():
        parts = []
        if "onnxRuntime" in ratios:
            parts.append(f"{ratios['onnxRuntime']:.2f}× ONNX Runtime")
        if "pyTorch" in ratios:
            parts.append(f"{ratios['pyTorch']:.2f}× PyTorch ({s['pytorch']}, the faster; marked ◀)")
        if parts:
            lines.append(f"Vitrine {precision} at its best batch: " + ", ".join(parts) + ", each at its best batch (peers fp32)")
        if "onnxRuntimeInt8" in ratios:
            peer = r.get("ort_int8") or {}
            agreement = lambda result, kind: (result.get(f"{kind}CosineToFP32") or {}).get("min")  # noqa: E731
            line = (f"Vitrine int8 against ONNX Runtime's own int8 (quantize_dynamic, QInt8 per channel): "
                    f"{ratios['onnxRuntimeInt8']:.2f}× its images/s at the best batches")
            if "onnxRuntimeInt8TextP50" in ratios:
                line += f", text p50 {ratios['onnxRuntimeInt8TextP50']:.2f}× faster"
            cos = [f"{name} image/text min cosine to its fp32 {agreement(result, 'image'):.4f}/{agreement(result, 'text'):.4f}"
                   for name, result in (("Vitrine", r.get("vitrine_int8") or {}), ("ONNX Runtime", peer))
                   if agreement(result, "image") is not None and agreement(result, "text") is not None]
            if cos:
                line += "; " + ", ".join(cos)
            lines.append(line)
    if s.get("rooflineImagesPerSecond"):
        reduced = [engine_name(key) for key in r if is_vitrine(key) and key != "vitrine"]
        if reduced:
            lines.append(f"the roofline is fp32's (sgemm); {', '.join(reduced)} {'computes' if len(reduced) == 1 else 'compute'} "
                         "in fewer bits and may pass it")
        above = [engine_name(key) for key, result in r.items() if key not in ("vitrine_int8", "vitrine_bf16", "ort_int8")
                 and best(result) and best(result)["imagesPerSecond"] > s["rooflineImagesPerSecond"]]
        if above:
            lines.append(f"above the roofline: {', '.join(above)}; the 768³ sgemm probe (OpenBLAS, best of 5) "
                         "is below what this CPU's fp32 units reach, so the roofline is not a ceiling here")
    pre = []
    if (r.get("torch_eager") or {}).get("preprocessImagesPerSecond"):
        pre.append(f"Pillow processor {r['torch_eager']['preprocessImagesPerSecond']:.0f} images/s")
    if (r.get("vitrine") or {}).get("preprocessMillisecondsPerImage"):
        pre.append(f"Vitrine {1000 / r['vitrine']['preprocessMillisecondsPerImage']:.0f} images/s")
    if pre:
        lines.append("preprocessing alone, one core, decoded images → pixel values: " + ", ".join(pre))
    versions = report["versions"]
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    return "\n".join(lines)


def markdown_section(report: dict) -> str:
    """The results as they go into BENCHMARKS.md: date, command, machine, load, table, notes."""
    m = report["machine"]
    load = m["load"][0]
    quiet = "quiet" if load <= 0.5 else "NOT quiet: other processes were using the cores; numbers are low"
    lines = [
        f"Run {datetime.fromisoformat(report['date']).strftime('%Y-%m-%d %H:%M UTC')}, "
        f"{report['seconds']:g} s per configuration after a warm-up call"
        f"{rounds_text(report)}, {report['threads']} threads, "
        f"{len(report['images'])} parity photos, batches {', '.join(map(str, report['batches']))}.",
        "",
        "```",
        report["command"],
        "```",
        "",
        f"- Machine: {m['cpu']}, {m['cpus']} CPUs ({', '.join(m['isa'])}), Linux {m['kernel']}.",
        f"- Load average at start: {m['load'][0]:.2f} / {m['load'][1]:.2f} / {m['load'][2]:.2f} "
        f"(1/5/15 min), {quiet}.",
        f"- Model: `{os.path.relpath(report['model'], ROOT) if report['model'].startswith(str(ROOT)) else report['model']}`.",
        "",
        report["table"],
        "",
    ]
    lines += [f"- {line}" for line in report["notes"].splitlines() if not line.startswith("machine:")]
    return "\n".join(lines) + "\n"


def rounds_text(report: dict) -> str:
    """How many rounds the table's numbers come from (disturbed rounds are left out)."""
    if report.get("rounds", 1) <= 1:
        return ""
    used = {key: result.get("roundsUsed", report["rounds"]) for key, result in report["results"].items() if result}
    text = f", best of {report['rounds']} rounds"
    dropped = [f"{engine_name(key)} {report['rounds'] - n}" for key, n in used.items() if n < report["rounds"]]
    if dropped:
        text += f" (disturbed rounds left out: {', '.join(dropped)})"
    return text


def step_report(args) -> None:
    """Print the Markdown section for BENCHMARKS.md from a results file."""
    path = Path(args.results)
    if not path.exists():
        raise StepError(f"no results at {path}; run bench/peers/embed.sh first")
    print(markdown_section(json.loads(path.read_text())), end="")


def step_run(args) -> dict:
    CACHE.mkdir(parents=True, exist_ok=True)
    args.model = str(Path(args.model).absolute())
    if not (Path(args.model) / "config.json").exists() or not any(Path(args.model).glob("*.safetensors")):
        raise StepError(f"{args.model} is not a Hugging Face CLIP checkpoint (config.json + *.safetensors); "
                        "make the standard one with `tools/make_fixtures.sh --full`")
    if not Path(args.vitrine).exists():
        raise StepError(f"no vitrine binary at {args.vitrine}; build it with `swift build -c release --product vitrine`")
    if not Path(args.vitrine).with_name("vitrine-bench").exists():
        raise StepError(f"no vitrine-bench beside {args.vitrine}; build it with `swift build -c release --product vitrine-bench`")
    args.image_files = benchmark_images(args.images)
    args.pixels = CACHE / "pixels.npy"

    started = datetime.now(timezone.utc)
    info = machine()
    log(f"machine: {info['cpu']}, {info['cpus']} CPUs; load average {info['load'][0]:.2f} {info['load'][1]:.2f} {info['load'][2]:.2f}")
    if info["load"][0] > 0.5:
        log(f"warning: the 1-minute load average is {info['load'][0]:.2f} (> 0.5): other processes are using "
            "the cores, and every engine's numbers will be low and noisy")
    if args.rounds < 1:
        raise StepError("--rounds takes a number of rounds, 1 or more")
    log(f"{len(args.image_files)} images, batches {args.batch}, {args.seconds:g} s per configuration, "
        f"{args.rounds} round(s), {args.threads} threads")

    prepared = run_worker("prepare", "prepare", [], args)
    if prepared is None:
        raise StepError("preparing the inputs failed (see the error above); nothing was measured")
    rounds = []
    for number in range(1, args.rounds + 1):
        if args.rounds > 1:
            log(f"round {number} of {args.rounds}")
        rounds.append({
            "torch_eager": run_worker("torch-eager", "torch", ["--attn", "eager", "--preprocess"], args),
            "torch_sdpa": run_worker("torch-sdpa", "torch", ["--attn", "sdpa"], args),
            "ort": run_worker("onnxruntime", "ort", ["--export-dir", prepared["exportDir"]], args),
            **({"ort_int8": run_worker("onnxruntime-int8", "ort", ["--export-dir", prepared["exportDir"], "--int8"], args)}
               if "int8" in args.precisions else {}),
            **{vitrine_key(p): run_vitrine(args, p) for p in args.precisions},
        })
    results = {key: merge_rounds([r[key] for r in rounds]) for key in engines(args.precisions)}
    summary = summarize(results, args)
    versions = {
        "torch": (results.get("torch_eager") or results.get("torch_sdpa") or {}).get("torch"),
        "transformers": _version("transformers"), "onnxruntime": (results.get("ort") or {}).get("onnxruntime"),
        "vitrine": _git_describe(),
    }
    command = os.environ.get("EMBED_PEERS_COMMAND") or "embed_peers.py " + " ".join(args.argv)
    report = {"date": started.isoformat(timespec="seconds"), "command": command.strip(), "model": args.model,
              "images": [os.path.relpath(p, ROOT) for p in args.image_files], "batches": args.batch,
              "seconds": args.seconds, "rounds": args.rounds, "threads": args.threads, "machine": info,
              "versions": versions,
              "results": results, "summary": summary}
    report["table"] = markdown_table(results, summary, args.batch)
    report["notes"] = footer(report)
    out = CACHE / "embed-results.json"
    out.write_text(json.dumps(report, indent=1))

    print()
    print(report["table"])
    print()
    print(report["notes"])
    print(f"results: {out.relative_to(ROOT)}")
    if any(value is None for value in results.values()):
        raise StepError("some engines failed (their rows say so); the others were measured")
    return report


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _git_describe() -> str | None:
    """The commit that last changed Vitrine's sources, and whether they have uncommitted changes."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                                  check=True).stdout.strip()

        commit = git("log", "-1", "--format=%h", "--", "Sources", "Package.swift")
        dirty = git("status", "--porcelain", "--", "Sources", "Package.swift")
        return f"{commit}{' + uncommitted changes' if dirty else ''} (sources)"
    except (OSError, subprocess.CalledProcessError):
        return None


def parse_batches(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("--batch takes comma-separated sizes, e.g. 1,8,32,64") from None
    if not sizes or any(not 1 <= size <= 1000 for size in sizes):
        raise argparse.ArgumentTypeError("--batch takes sizes between 1 and 1000")
    return sizes


def parse_precisions(text: str) -> list[str]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in ("fp32", "bf16", "int8")]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"--precisions takes fp32, bf16 and int8, comma-separated (got {text!r})")
    return list(dict.fromkeys(names))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    report = steps.add_parser("report", help="print the BENCHMARKS.md section from a results file")
    report.add_argument("--results", default=str(CACHE / "embed-results.json"))
    for name in ("run", "prepare", "torch", "ort"):
        step = steps.add_parser(name)
        step.add_argument("--model", default=str(ROOT / ".fixtures-full/clip-vit-base-patch32-random"))
        step.add_argument("--batch", type=parse_batches, default=[1, 8, 32, 64])
        step.add_argument("--seconds", type=float, default=5.0)
        step.add_argument("--threads", type=int, default=2)
        step.add_argument("--images", nargs="*", default=[])
        if name == "run":
            step.add_argument("--vitrine", default=str(ROOT / ".build/release/vitrine"))
            step.add_argument("--precisions", type=parse_precisions, default=["fp32", "int8"],
                              help="Vitrine's weight precisions, one row each (fp32, bf16, int8)")
            step.add_argument("--rounds", type=int, default=1,
                              help="run all engines this many times, interleaved; keep each one's best")
        else:
            step.add_argument("--pixels", required=True)
            step.add_argument("--out", required=True)
        if name == "torch":
            step.add_argument("--attn", choices=["eager", "sdpa"], required=True)
            step.add_argument("--preprocess", action="store_true")
        if name == "ort":
            step.add_argument("--export-dir", required=True)
            step.add_argument("--int8", action="store_true", help="the quantize_dynamic graphs (QInt8, per channel)")
    args = parser.parse_args(argv)
    if args.step in ("run", "report"):
        args.argv = argv[1:]
        try:
            step_run(args) if args.step == "run" else step_report(args)
        except StepError as error:
            log(f"error: {error}")
            sys.exit(1)
    else:
        worker_main({"prepare": step_prepare, "torch": step_torch, "ort": step_ort}[args.step], args)


if __name__ == "__main__":
    main(sys.argv[1:])
