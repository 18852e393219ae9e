"""tools/train_det.py on a generated COCO-format set: trains, reports COCO AP (bbox, segm), checkpoints."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import TOOLS

pytestmark = pytest.mark.slow

TOOL = TOOLS / "train_det.py"


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> Path:
    """Bright squares (category 1) on dark noise, with boxes and polygon masks."""
    root = tmp_path_factory.mktemp("coco")
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("val", 3)):
        (root / split).mkdir()
        images, anns = [], []
        for i in range(n):
            image = rng.integers(0, 50, (96, 96, 3), dtype=np.uint8)
            x, y, s = int(rng.integers(5, 50)), int(rng.integers(5, 50)), 32
            image[y : y + s, x : x + s] += 180
            Image.fromarray(image).save(root / split / f"{i}.png")
            images.append(dict(id=i + 1, file_name=f"{i}.png", width=96, height=96))
            anns.append(dict(id=i + 1, image_id=i + 1, category_id=1, bbox=[x, y, s, s], area=s * s, iscrowd=0,
                             segmentation=[[x, y, x + s, y, x + s, y + s, x, y + s]]))
        (root / f"{split}.json").write_text(json.dumps(dict(images=images, annotations=anns,
                                                            categories=[dict(id=1, name="square")])))
    return root


@pytest.mark.parametrize("arch", ["faster_rcnn", "mask_rcnn"])
def test_trains_and_reports_coco_ap(coco, arch, tmp_path):
    result = subprocess.run(
        [sys.executable, str(TOOL), "--data-dir", str(coco), "--train-images", "train", "--train-ann", "train.json",
         "--val-images", "val", "--val-ann", "val.json", "--backbone", "vmamba_tiny", "--arch", arch,
         "--num-classes", "2", "--model-kwargs", "depths=[1,1,1,1]", "dims=16", "--min-size", "96", "--max-size", "96",
         "--epochs", "1", "--batch-size", "2", "--workers", "0", "--no-progress", "--output", str(tmp_path)],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (out,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    with open(out / "summary.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert 0 <= float(row["eval_bbox_AP"]) <= 100 and float(row["train_loss"]) > 0
    assert ("eval_segm_AP" in row) == (arch == "mask_rcnn")
    for name in ("last.pth", "model_best.pth"):  # our own files hold nothing weights_only refuses
        assert isinstance(torch.load(out / name, weights_only=True)["model"], dict)


def test_missing_annotations_are_named(coco, tmp_path):
    result = subprocess.run([sys.executable, str(TOOL), "--data-dir", str(coco), "--train-ann", "nope.json",
                             "--train-images", "train", "--output", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0 and "nope.json does not exist" in result.stderr
