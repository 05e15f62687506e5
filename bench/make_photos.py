#!/usr/bin/env python3
"""Writes N distinct GLAMI-sized product photos (298x228 JPEG, quality 90) into a folder, cut
from the colour sample photos Debian ships (python3-skimage, opencv-doc) at seeded random
positions and scales, for `vitrine-bench ingest` and ingest load tests.

Usage: bench/make_photos.py OUT_DIR [N] (default 1000). Needs Pillow (any venv with it, e.g.
tools/.venv, or Debian's python3-pil).
"""
import glob
import os
import random
import sys

from PIL import Image

SOURCES = sorted(
    glob.glob("/usr/lib/python3/dist-packages/skimage/data/*.png")
    + glob.glob("/usr/share/doc/opencv-doc/examples/data/*.jpg")
)


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rng = random.Random(1)
    photos = []
    for path in SOURCES:
        try:
            image = Image.open(path)
            image.load()
        except Exception:
            continue
        if image.mode in ("RGB", "RGBA", "P") and min(image.size) >= 200:
            photos.append(image.convert("RGB"))
    if not photos:
        sys.exit("no sample photos found: apt install python3-skimage opencv-doc")
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        scale = rng.uniform(0.5, 1.0)
        cw, ch = int(w * scale), int(h * scale)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        crop = photo.crop((x, y, x + cw, y + ch)).resize((298, 228), Image.BICUBIC)
        category = "cat%02d" % (i % 12)
        os.makedirs(os.path.join(out, category), exist_ok=True)
        crop.save(os.path.join(out, category, "photo_%06d.jpg" % i), quality=90)
    print("%d photos from %d sources in %s" % (count, len(photos), out))


if __name__ == "__main__":
    main()
