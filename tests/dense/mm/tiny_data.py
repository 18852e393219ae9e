"""Tiny generated datasets in the layouts mmdet and mmseg read: COCO instances (boxes and polygons) and ADE20K
(images/annotations folders, labels 1..150 with 0 = ignore), a few coloured rectangles on noise per image."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

COCO_CATEGORIES = [dict(id=1, name="person"), dict(id=3, name="car")]


def _rectangles(rng: np.random.Generator, height: int, width: int, count: int) -> list[tuple[int, int, int, int]]:
    boxes = []
    for _ in range(count):
        w, h = rng.integers(width // 4, width // 2), rng.integers(height // 4, height // 2)
        x, y = rng.integers(0, width - w), rng.integers(0, height - h)
        boxes.append((int(x), int(y), int(w), int(h)))
    return boxes


def make_coco(root: Path, split: str, sizes: list[tuple[int, int]], seed: int = 0) -> Path:
    """root/{split}/NAME.jpg and root/annotations/instances_{split}.json; returns the annotation file."""
    rng = np.random.default_rng(seed)
    (root / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index, (height, width) in enumerate(sizes):
        pixels = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
        for x, y, w, h in _rectangles(rng, height, width, 2):
            category = COCO_CATEGORIES[len(annotations) % 2]
            pixels[y:y + h, x:x + w] = (220, 40, 40) if category["id"] == 1 else (40, 40, 220)
            annotations.append(dict(id=len(annotations) + 1, image_id=index + 1, category_id=category["id"],
                                    bbox=[x, y, w, h], area=w * h, iscrowd=0,
                                    segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]]))
        name = f"{index:04d}.jpg"
        Image.fromarray(pixels).save(root / split / name, quality=95)
        images.append(dict(id=index + 1, file_name=name, height=height, width=width))
    ann_file = root / "annotations" / f"instances_{split}.json"
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    ann_file.write_text(json.dumps(dict(images=images, annotations=annotations, categories=COCO_CATEGORIES)))
    return ann_file


def make_ade(root: Path, split: str, sizes: list[tuple[int, int]], seed: int = 0) -> None:
    """root/images/{split}/NAME.jpg and root/annotations/{split}/NAME.png (ADEChallengeData2016's layout)."""
    rng = np.random.default_rng(seed)
    for folder in ("images", "annotations"):
        (root / folder / split).mkdir(parents=True, exist_ok=True)
    for index, (height, width) in enumerate(sizes):
        pixels = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
        labels = np.ones((height, width), dtype=np.uint8)  # class 1 ("wall") as background
        for k, (x, y, w, h) in enumerate(_rectangles(rng, height, width, 2)):
            pixels[y:y + h, x:x + w] = (220, 40, 40) if k == 0 else (40, 40, 220)
            labels[y:y + h, x:x + w] = 3 + k
        Image.fromarray(pixels).save(root / "images" / split / f"ADE_{index:04d}.jpg", quality=95)
        Image.fromarray(labels).save(root / "annotations" / split / f"ADE_{index:04d}.png")
