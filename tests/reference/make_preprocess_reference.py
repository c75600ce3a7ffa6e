#!/usr/bin/python3
"""Test images and what PIL makes of them, for the .NET preprocessing tests.

Run by a developer with Debian's python3-pil (never by CI):

    /usr/bin/python3 tests/reference/make_preprocess_reference.py

Writes tests/images/* (small images in the formats and modes users feed us)
and tests/reference/preprocess/<image>.<recipe>.npy: the uint8 H x W x 3
pixels PIL produces with the two recipes

  hf:   exif_transpose, convert("RGB"), resize((224, 224), BILINEAR)
        (the Hugging Face ViT processor for dino-vits8, plus EXIF orientation)
  dino: exif_transpose, convert("RGB"), shorter side to 256 with BICUBIC
        (torchvision Resize(256) on a PIL image), center crop 224
  bit:  the same with transformers' center crop (BitImageProcessor, the
        DINOv2 processor): the crop starts at (size - 224) // 2; written only
        where it differs from dino (odd-crop.png: a margin of 119 rows)

Pixels, not floats: the resize is what can differ; normalization is the same
arithmetic everywhere and the tests apply it to both sides.
"""
import io
import os
import sys

import numpy as np
from PIL import Image, ImageOps

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, os.path.join(root, "tests", "data"))
from make_synthetic import uniform  # noqa: E402

IMAGES = os.path.join(root, "tests", "images")
OUT = os.path.join(here, "preprocess")


def pattern(name, w, h, noise=25):
    y, x = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    r = 127 + 100 * np.sin(6 * x + 2 * y)
    g = 127 + 100 * np.cos(5 * y - 3 * x * y)
    b = 255 * (x * y) ** 0.5
    img = np.stack([r, g, b], -1) + uniform(name, (h, w, 3), -noise, noise)
    img[h // 3: h // 2, w // 4: w // 2] = (240, 30, 30)  # a sharp-edged block
    return np.clip(img, 0, 255).astype(np.uint8)


def make_images():
    os.makedirs(IMAGES, exist_ok=True)
    Image.fromarray(pattern("rgb", 320, 240)).save(os.path.join(IMAGES, "rgb.png"))
    Image.fromarray(pattern("gray", 200, 260)[..., 1]).save(os.path.join(IMAGES, "gray.png"))
    Image.fromarray(pattern("pal", 257, 193)).quantize(64).save(os.path.join(IMAGES, "palette.png"))
    rgba = np.dstack([pattern("rgba", 240, 240), np.linspace(0, 255, 240 * 240).reshape(240, 240).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(os.path.join(IMAGES, "rgba.png"))
    # JPEGs get photo-like noise; per-pixel noise of +-25 is not what cameras
    # produce and magnifies decoder differences in chroma upsampling.
    Image.fromarray(pattern("photo", 400, 300, noise=6)).save(os.path.join(IMAGES, "photo.jpg"), quality=92)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    Image.fromarray(pattern("rot", 304, 200, noise=6)).save(os.path.join(IMAGES, "exif-rotated.jpg"), quality=92, exif=exif)
    Image.fromarray(pattern("tiny", 20, 30)).save(os.path.join(IMAGES, "tiny.png"))
    Image.fromarray(pattern("wide", 640, 100)).save(os.path.join(IMAGES, "wide.png"))
    # 343 - 224 = 119 rows to crop: torchvision starts at round(59.5) = 60, transformers at 59.
    Image.fromarray(pattern("odd", 256, 343)).save(os.path.join(IMAGES, "odd-crop.png"))


def load_rgb(path):
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def hf(im):
    return im.resize((224, 224), Image.BILINEAR)


def dino(im, floor=False):
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(256 * long / short)
    im = im.resize((256, new_long) if w <= h else (new_long, 256), Image.BICUBIC)
    w, h = im.size
    if floor:  # transformers' image_transforms.center_crop
        top, left = (h - 224) // 2, (w - 224) // 2
    else:  # torchvision CenterCrop
        top, left = int(round((h - 224) / 2.0)), int(round((w - 224) / 2.0))
    return im.crop((left, top, left + 224, top + 224))


def bit(im):
    return dino(im, floor=True)


def main():
    make_images()
    os.makedirs(OUT, exist_ok=True)
    for name in sorted(os.listdir(IMAGES)):
        im = load_rgb(os.path.join(IMAGES, name))
        made = {}
        for recipe, f in (("hf", hf), ("dino", dino), ("bit", bit)):
            a = made[recipe] = np.asarray(f(im), dtype=np.uint8)
            if recipe == "bit" and np.array_equal(a, made["dino"]):
                continue
            np.save(os.path.join(OUT, f"{name}.{recipe}.npy"), a)
            print(f"  {name}.{recipe}: {a.shape}", file=sys.stderr)


if __name__ == "__main__":
    main()
