#!/usr/bin/env python3
"""Builds a small cross-encoder checkpoint from the real all-MiniLM-L6-v2 weights, for the reranker
parity tests. Standard library only: CI runs it with a plain python3 (no torch, no numpy).

The output is a Hugging Face `BertForSequenceClassification` directory with one label, laid out like
cross-encoder/ms-marco-MiniLM-L-6-v2 (same architecture: 6-layer BERT, hidden 384, uncased BERT vocab):

  model.safetensors   every MiniLM tensor under the `bert.` prefix (the encoder and the pooler), without
                      `embeddings.position_ids` (a non-persistent buffer that `save_pretrained` leaves out),
                      plus `classifier.weight` [1, 384] and `classifier.bias` [1], all float32
  config.json         MiniLM's config.json with architectures ["BertForSequenceClassification"], one label
                      (id2label/label2id) and `sbert_ce_default_activation_function` set to Identity, the
                      key the real ms-marco config carries, so sentence-transformers' CrossEncoder returns
                      raw logits instead of applying its num_labels=1 default, a sigmoid
  vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json   copied byte for byte

The classifier is not trained: its 385 values come from SplitMix64 (seed CLASSIFIER_SEED below), each
64-bit output x mapped to u = (x >> 11) / 2**53 in [0, 1) and to (2u - 1) * CLASSIFIER_HALF_WIDTH in
double precision, then rounded to float32: weight row first (384 draws, in order), then the bias.
Every step is exact or correctly rounded IEEE arithmetic, so a Swift port rebuilds the same bytes.
The uniform half-width 0.5 (std 0.29, far above BERT's 0.02 init) spreads the logits over a few
units like a trained MS MARCO reranker's, so a parity test on them is sensitive to encoder errors.

The safetensors file is written by hand: an 8-byte little-endian header length, the JSON header
(`__metadata__` {"format": "pt"} first, then the tensors in name order, each with dtype, shape and
data_offsets), padded with spaces to a multiple of 8 bytes, then the tensors' data back to back in
the same order. The output is byte-identical from run to run; tools/make_crossencoder_fixtures.py
records its sha256 in Tests/Fixtures/crossencoder/versions.json.

  tools/fetch_minilm.sh
  python3 tools/make_crossencoder_checkpoint.py .fixtures-minilm/all-MiniLM-L6-v2 OUT_DIR
"""
import argparse
import hashlib
import json
import shutil
import struct
import sys
from pathlib import Path

CLASSIFIER_SEED = 0x56495452494E4531  # "VITRINE1"
CLASSIFIER_HALF_WIDTH = 0.5
NUM_LABELS = 1
ACTIVATION = "torch.nn.modules.linear.Identity"
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
DROPPED = {"embeddings.position_ids"}
MASK64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self, half_width):
        """A double in [-half_width, half_width), rounded to float32."""
        u = (self.next() >> 11) * (1.0 / (1 << 53))
        return struct.unpack("<f", struct.pack("<f", (2.0 * u - 1.0) * half_width))[0]


def classifier_head(hidden_size):
    """The classifier's weight row (hidden_size floats) and bias, as float32 values."""
    rng = SplitMix64(CLASSIFIER_SEED)
    weight = [rng.uniform(CLASSIFIER_HALF_WIDTH) for _ in range(hidden_size)]
    bias = [rng.uniform(CLASSIFIER_HALF_WIDTH) for _ in range(NUM_LABELS)]
    return weight, bias


def read_safetensors(path):
    """{name: (dtype, shape, bytes)} from a safetensors file."""
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    body = data[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(body):
            sys.exit(f"make_crossencoder_checkpoint: {name} lies outside {path}")
        tensors[name] = (info["dtype"], list(info["shape"]), body[begin:end])
    return tensors


def write_safetensors(path, tensors):
    """Writes {name: (dtype, shape, bytes)} in name order, with the `pt` format metadata."""
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for name in sorted(tensors):
            f.write(tensors[name][2])


def build(minilm, out):
    """Writes the checkpoint into `out` (created if needed); returns the sha256 of model.safetensors."""
    config = json.loads((minilm / "config.json").read_text(encoding="utf-8"))
    hidden = config["hidden_size"]
    source = read_safetensors(minilm / "model.safetensors")

    tensors = {}
    for name, (dtype, shape, raw) in source.items():
        if name in DROPPED:
            continue
        if dtype != "F32":
            sys.exit(f"make_crossencoder_checkpoint: {name} is {dtype}, expected F32")
        tensors["bert." + name] = (dtype, shape, raw)
    for needed in ("bert.pooler.dense.weight", "bert.pooler.dense.bias", "bert.embeddings.word_embeddings.weight"):
        if needed not in tensors:
            sys.exit(f"make_crossencoder_checkpoint: {minilm} has no {needed[len('bert.'):]}")

    weight, bias = classifier_head(hidden)
    tensors["classifier.weight"] = ("F32", [NUM_LABELS, hidden], struct.pack(f"<{len(weight)}f", *weight))
    tensors["classifier.bias"] = ("F32", [NUM_LABELS], struct.pack(f"<{len(bias)}f", *bias))

    config["architectures"] = ["BertForSequenceClassification"]
    config["id2label"] = {str(i): f"LABEL_{i}" for i in range(NUM_LABELS)}
    config["label2id"] = {f"LABEL_{i}": i for i in range(NUM_LABELS)}
    config["sbert_ce_default_activation_function"] = ACTIVATION

    out.mkdir(parents=True, exist_ok=True)
    write_safetensors(out / "model.safetensors", tensors)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for name in TOKENIZER_FILES:
        shutil.copyfile(minilm / name, out / name)

    return sha256(out / "model.safetensors")


def sha256(path):
    """The file's SHA-256, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("minilm", type=Path, help="the all-MiniLM-L6-v2 directory (tools/fetch_minilm.sh)")
    ap.add_argument("out", type=Path, help="the checkpoint directory to write")
    args = ap.parse_args()
    print(build(args.minilm, args.out))


if __name__ == "__main__":
    main()
