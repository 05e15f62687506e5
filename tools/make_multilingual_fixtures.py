"""Writes the multilingual query tower's parity fixtures under Tests/Fixtures/multilingual/.

The architecture is sentence-transformers/clip-ViT-B-32-multilingual-v1's: a cased multilingual
DistilBERT (6 layers, 768 wide, 12 heads), mean pooling, and a dense layer from 768 to 512
dimensions without bias or activation, as its modules.json, 1_Pooling/config.json and
2_Dense/config.json say (copied here as the hub has them). Two things differ, because the real
files cannot be had here:

* the vocabulary: a cased WordPiece vocabulary trained with the `tokenizers` library on
  multilingual fashion text (the 13 GLAMI-1M languages with their scripts and diacritics, plus
  English, German, French, CJK and Korean), so config.json's vocab_size is its size;
* the weights: random, written by Swift (`vitrine model random --like model/ --seed S`), so that
  the test can write the same 190 MB checkpoint again instead of committing it.

Writes:
  model/                  config.json, tokenizer files and the sentence-transformers module configs
  tokens.json             [{text, ids, truncated}] from transformers' fast tokenizer, cut at 128
  embeddings.npy          float32 [texts, 512]: SentenceTransformer(model with random weights).encode,
                          one text at a time (no padding), not normalized
  versions.json           library versions, the seed, the vocabulary's sha256

Run with a Python that has torch, transformers, tokenizers and sentence-transformers, and a built
vitrine binary:
  tools/.venv/bin/python tools/make_multilingual_fixtures.py --vitrine .build/debug/vitrine
"""
import argparse
import hashlib
import json
import platform
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer
from tokenizers import BertWordPieceTokenizer
from transformers import AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "multilingual"
SEED = 20261204
MAX_SEQ_LENGTH = 128
VOCAB_SIZE = 4000

# Fashion text in the 13 GLAMI-1M languages, and a few others: the training corpus of the
# vocabulary, and (with the cases below) the texts of the fixtures.
LANGUAGES = {
    "cs": ["červené letní šaty s květinovým vzorem", "Dámské kožené boty na podpatku, černé",
           "pánská zimní bunda s kapucí", "Žlutý svetr z merino vlny", "Modré džíny střih slim"],
    "sk": ["čierne kožené čižmy pre ženy", "Letné šaty s kvetinovou potlačou", "pánske tričko s krátkym rukávom",
           "Vlnený sveter ďalšej farby", "Športové tenisky, veľkosť 42"],
    "ro": ["rochie de vară roșie cu imprimeu floral", "Cizme din piele neagră pentru femei", "geacă de iarnă bărbați",
           "pulover din lână, mărimea M", "Pantofi sport albi (șiret, ţesătură)"],
    "el": ["κόκκινο καλοκαιρινό φόρεμα με λουλούδια", "Μαύρες δερμάτινες μπότες για γυναίκες",
           "ανδρικό χειμερινό μπουφάν", "ΜΑΛΛΙΝΟ ΠΟΥΛΌΒΕΡ", "Τζιν παντελόνι ΑΘΛΗΤΙΚΆ παπούτσια"],
    "sl": ["rdeča poletna obleka s cvetličnim vzorcem", "Ženski usnjeni škornji, črni", "moška zimska jakna",
           "Volnen pulover, velikost L", "Športni copati za tek"],
    "hr": ["crvena ljetna haljina s cvjetnim uzorkom", "Ženske kožne čizme, crne", "muška zimska jakna",
           "Vuneni džemper, veličina M", "Đonovi od gume, tenisice"],
    "bg": ["червена лятна рокля на цветя", "Черни кожени ботуши за жени", "мъжко зимно яке с качулка",
           "Вълнен пуловер, размер М", "Спортни обувки за бягане"],
    "lt": ["raudona vasarinė suknelė su gėlėmis", "Juodi odiniai batai moterims", "vyriška žieminė striukė",
           "Vilnonis megztinis, dydis M", "Sportiniai bateliai ąčęėįšųūž"],
    "hu": ["piros nyári virágos ruha", "Fekete bőr csizma nőknek", "férfi téli kabát kapucnival",
           "Gyapjú pulóver, méret: M", "Sportcipő futáshoz, őszi és tűsarkú"],
    "lv": ["sarkana vasaras kleita ar ziediem", "Melni ādas zābaki sievietēm", "vīriešu ziemas jaka ar kapuci",
           "Vilnas džemperis, izmērs M", "Sporta apavi ģērbšanās ķēde ļoti ņemt"],
    "et": ["punane suvekleit lillemustriga", "Mustad nahast saapad naistele", "meeste talvejope kapuutsiga",
           "Villane kampsun, suurus M", "Spordijalatsid jooksmiseks, õhuke äär ööd üle"],
    "tr": ["kırmızı çiçekli yazlık elbise", "Kadın siyah deri çizme", "erkek kışlık mont kapüşonlu",
           "İSTANBUL yün kazak, beden M", "Spor ayakkabı ığdır ışık İzmir"],
    "es": ["vestido rojo de verano con flores", "Botas de cuero negras para mujer", "chaqueta de invierno para hombre",
           "¿Jersey de lana? ¡Talla M!", "Zapatillas deportivas, niño y niña, pequeño"],
    "en": ["red floral summer dress", "black leather boots for women", "men's winter jacket with a hood",
           "Wool jumper, size M", "Running shoes (white/grey) – 20% off!"],
    "de": ["rotes Sommerkleid mit Blumenmuster", "Schwarze Lederstiefel für Damen", "Herren-Winterjacke, Größe XL, weiß"],
    "fr": ["robe d'été rouge à fleurs", "Bottes en cuir noir pour femme", "veste d'hiver homme, crème brûlée"],
    "cjk": ["连衣裙 红色 夏天", "着物 と 帯", "한복 치마", "ワンピース 赤"],
}

# Cases for the tokenizer: case and accents kept, decomposed input, CJK split, unknown and
# over-long words, control characters, punctuation, special tokens typed in text, truncation.
CASES = [
    "ČERVENÉ ŠATY",
    "Istanbul İstanbul ISTANBUL ıIiİ",
    "ıi̇ İ",
    unicodedata.normalize("NFD", "červené šaty, ďalšej, ąčęėįšųūž"),
    "Ωραίο ΦΌΡΕΜΑ ά έ ή ί ό ύ ώ ϊ ϋ ΐ ΰ",
    "Ёлка ёж Йога й",
    "ș ş ț ţ Ș Ş Ț Ţ",
    "őű ŐŰ õ Õ ß ẞ",
    "连衣裙red dress女中国",
    "🥰 emoji dress ✨ ♥",
    "x" * 100,
    "y" * 101 + " dress",
    "supercalifragilisticexpialidocious šaty",
    "  tabs\tand\nnewlines\u00a0and\u200bzero width  ",
    "control\u0007char and\u00adsoft hyphen",
    "[MASK] šaty [CLS] x [SEP] [UNK] [PAD]",
    "T-shirt (M/L) @ $19.99 & free shipping?!",
    "Ф",
    "ǅ ǈ ǋ Ǆ ǉ",
    " ".join(LANGUAGES["cs"] + LANGUAGES["el"] + LANGUAGES["bg"] + LANGUAGES["tr"] + LANGUAGES["lv"] + LANGUAGES["hu"]) * 2,
]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_json(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitrine", required=True, help="a built vitrine binary (writes the random weights)")
    args = parser.parse_args()

    texts = [t for group in LANGUAGES.values() for t in group] + CASES
    model_dir = OUT / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)

    # 1. The vocabulary: cased WordPiece over the corpus, every character of it in the alphabet.
    trainer = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    corpus = [t for group in LANGUAGES.values() for t in group] * 3 + CASES[:10]
    trainer.train_from_iterator(corpus, vocab_size=VOCAB_SIZE, min_frequency=1, limit_alphabet=2000,
                                special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    trainer.save_model(str(model_dir))
    vocab_size = len((model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines())

    # 2. The files of clip-ViT-B-32-multilingual-v1, with the vocabulary's size.
    write_json(model_dir / "config.json", {
        "activation": "gelu", "architectures": ["DistilBertModel"], "attention_dropout": 0.1, "dim": 768,
        "dropout": 0.1, "hidden_dim": 3072, "initializer_range": 0.02, "max_position_embeddings": 512,
        "model_type": "distilbert", "n_heads": 12, "n_layers": 6, "output_past": True, "pad_token_id": 0,
        "qa_dropout": 0.1, "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True,
        "vocab_size": vocab_size,
    })
    write_json(model_dir / "tokenizer_config.json", {
        "do_lower_case": False, "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]", "tokenize_chinese_chars": True, "strip_accents": None,
        "model_max_length": 512, "tokenizer_class": "DistilBertTokenizer",
    })
    write_json(model_dir / "special_tokens_map.json", {
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
    })
    write_json(model_dir / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ])
    write_json(model_dir / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    write_json(model_dir / "1_Pooling" / "config.json", {
        "word_embedding_dimension": 768, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
    })
    write_json(model_dir / "2_Dense" / "config.json", {
        "in_features": 768, "out_features": 512, "bias": False,
        "activation_function": "torch.nn.modules.linear.Identity",
    })

    # 3. Tokens: transformers' fast tokenizer from these files, as sentence-transformers calls it.
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    assert tokenizer.is_fast
    assert tokenizer.tokenize("ČERVENÉ") != tokenizer.tokenize("červené"), "the tokenizer must be cased"
    rows = []
    for text in texts:
        full = tokenizer(text)["input_ids"]
        cut = tokenizer(text, truncation=True, max_length=MAX_SEQ_LENGTH)["input_ids"]
        rows.append({"text": text, "ids": cut, "truncated": len(full) > MAX_SEQ_LENGTH})
    unknown = tokenizer.convert_tokens_to_ids("[UNK]")
    assert any(unknown in r["ids"] for r in rows), "some case must meet [UNK]"
    assert any(r["truncated"] for r in rows), "some case must be truncated"
    write_json(OUT / "tokens.json", rows)

    # 4. Embeddings of the random-weight model Swift writes, through sentence-transformers.
    with tempfile.TemporaryDirectory() as tmp:
        random_dir = Path(tmp) / "model"
        subprocess.run([args.vitrine, "model", "random", "--like", str(model_dir), "--out", str(random_dir),
                        "--seed", str(SEED)], check=True)
        model = SentenceTransformer(str(random_dir), device="cpu")
        assert model.max_seq_length == MAX_SEQ_LENGTH
        for row in rows:
            assert model.tokenizer(row["text"], truncation=True, max_length=MAX_SEQ_LENGTH)["input_ids"] == row["ids"]
        with torch.no_grad():
            embeddings = np.stack([model.encode([t], convert_to_numpy=True, normalize_embeddings=False)[0] for t in texts])
    assert embeddings.shape == (len(texts), 512)
    np.save(OUT / "embeddings.npy", embeddings.astype(np.float32))

    write_json(OUT / "versions.json", {
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__, "sentence_transformers": sentence_transformers.__version__,
        "numpy": np.__version__, "architecture": "sentence-transformers/clip-ViT-B-32-multilingual-v1",
        "seed": SEED, "vocab_size": vocab_size, "vocab.txt sha256": sha256(model_dir / "vocab.txt"),
        "max_seq_length": MAX_SEQ_LENGTH,
    })
    print(f"{len(texts)} texts, vocabulary of {vocab_size}, written to {OUT}")


if __name__ == "__main__":
    main()
