"""Writes Tests/Fixtures/hub/python-cache: a tiny hub cache laid out by huggingface_hub's own
cache helpers (blob naming, relative snapshot symlinks, refs), for VitrineModelsTests to read
offline. Run with the project's venv: tools/.venv/bin/python Tests/Fixtures/hub/make_python_cache.py
"""
import hashlib
import os
import shutil
from pathlib import Path

from huggingface_hub import file_download

REPO = "acme/tiny-clip"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {
    "config.json": (b'{"model_type": "clip"}\n', False),
    "tokenizer.json": (b'{"version": "1.0"}\n', False),
    "model.safetensors": (bytes(range(256)) * 16, True),
}

here = Path(__file__).resolve().parent
cache = here / "python-cache"
shutil.rmtree(cache, ignore_errors=True)
storage = cache / file_download.repo_folder_name(repo_id=REPO, repo_type="model")
for name, (content, lfs) in FILES.items():
    if lfs:
        etag = hashlib.sha256(content).hexdigest()
    else:
        etag = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
    blob = storage / "blobs" / etag
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(content)
    pointer = file_download._get_pointer_path(str(storage), COMMIT, name)
    os.makedirs(os.path.dirname(pointer), exist_ok=True)
    file_download._create_symlink(str(blob), pointer, new_blob=False)
file_download._cache_commit_hash_for_specific_revision(str(storage), "main", COMMIT)
print(cache)
