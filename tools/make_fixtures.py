"""Writes the parity fixtures that `swift test` checks Vitrine against.

The reference is Hugging Face transformers 5.x (`CLIPModel`, `CLIPTokenizer`) with the Pillow image
processor (`CLIPImageProcessorPil`). Each part lives in its own module under tools/fixtures/:
  tokenizer.py  token ids for hard strings, with the real openai/clip-vit-base-patch32 vocab
  images.py     real photos of every kind, and their resized + cropped pixels
  models.py     random-weight CLIP checkpoints and their image and text embeddings
Run through tools/make_fixtures.sh, which prepares the Python environment.
"""
import argparse
import json
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from fixtures import images, models, tokenizer  # noqa: E402


def versions():
    import numpy
    import PIL
    import tokenizers as tk
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tk.__version__,
        "pillow": PIL.__version__,
        "numpy": numpy.__version__,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "Tests" / "Fixtures")
    ap.add_argument("--clip-tokenizer", type=Path,
                    default=ROOT.parent / "shared" / "models" / "openai-clip-vit-base-patch32",
                    help="directory with the real vocab.json, merges.txt, tokenizer.json, config.json")
    ap.add_argument("--full", action="store_true",
                    help="also write a full-size ViT-B/32 random checkpoint and its outputs")
    ap.add_argument("--full-out", type=Path, default=ROOT / ".fixtures-full")
    ap.add_argument("--only", choices=["tokenizer", "images", "models"], action="append")
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    parts = args.only or ["tokenizer", "images", "models"]
    if "tokenizer" in parts:
        tokenizer.make(args.out, args.clip_tokenizer)
    if "images" in parts:
        images.make(args.out, args.clip_tokenizer)
    if "models" in parts:
        models.make(args.out, args.clip_tokenizer, full_out=args.full_out if args.full else None)
    (args.out / "versions.json").write_text(json.dumps(versions(), indent=2) + "\n")


if __name__ == "__main__":
    main()
