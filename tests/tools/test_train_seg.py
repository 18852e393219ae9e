"""tools/train_seg.py on a generated image/mask folder: learns, reports mIoU, resumes exactly after a kill."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import TOOLS, torchrun

pytestmark = pytest.mark.slow

TOOL = TOOLS / "train_seg.py"


@pytest.fixture(scope="module")
def seg_data(tmp_path_factory) -> Path:
    """Bright rectangles (class 1) on a dark background (class 0), a 255 (ignore) border."""
    root = tmp_path_factory.mktemp("seg")
    rng = np.random.default_rng(0)
    for split, n in (("train", 16), ("val", 4)):
        (root / "images" / split).mkdir(parents=True)
        (root / "masks" / split).mkdir(parents=True)
        for i in range(n):
            image = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
            mask = np.zeros((64, 64), dtype=np.uint8)
            y, x = rng.integers(4, 32, 2)
            image[y : y + 24, x : x + 24] += 150
            mask[y : y + 24, x : x + 24] = 1
            mask[:2] = 255
            Image.fromarray(image).save(root / "images" / split / f"{i}.png")
            Image.fromarray(mask).save(root / "masks" / split / f"{i}.png")
    return root


ARGS = ["--backbone", "vmamba_tiny", "--num-classes", "2", "--model-kwargs", "depths=[1,1,1,1]", "dims=8",
        "--head-channels", "16", "--crop-size", "64", "--epochs", "2", "--batch-size", "4", "--lr", "1e-3",
        "--workers", "0", "--no-progress",
        "--eval-mode", "slide", "--eval-crop", "48", "--flip-tta"]  # 64 px images: 2x2 overlapping windows


def run(*args):
    result = subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True)
    return result


def test_trains_reports_miou_and_resumes_exactly(seg_data, tmp_path):
    whole = run("--data-dir", str(seg_data), *ARGS, "--output", str(tmp_path), "--experiment", "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    with open(tmp_path / "whole" / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"eval_mIoU", "eval_pixel_acc"} <= rows[0].keys()
    assert float(rows[-1]["eval_pixel_acc"]) > 50
    killed = run("--data-dir", str(seg_data), *ARGS, "--output", str(tmp_path), "--experiment", "killed",
                 "--recovery-interval", "2", "--kill-after-steps", "7")
    assert killed.returncode == 17
    resumed = run("--data-dir", str(seg_data), *ARGS, "--output", str(tmp_path), "--experiment", "killed",
                  "--recovery-interval", "2", "--resume", "auto")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = torch.load(tmp_path / "whole" / "last.pth", weights_only=True)["model"]
    b = torch.load(tmp_path / "killed" / "last.pth", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bad_evaluation_windows_are_named_before_training(seg_data, tmp_path):
    args = [a for a in ARGS if a not in ("--eval-crop", "48")]
    result = run("--data-dir", str(seg_data), *args, "--eval-crop", "32", "--eval-stride", "40",
                 "--output", str(tmp_path))
    assert result.returncode != 0 and "--eval-crop 32 / --eval-stride 40" in result.stderr
    assert not (tmp_path / "upernet_vmamba_tiny" / "summary.csv").exists()


def test_missing_masks_are_named(seg_data, tmp_path):
    result = run("--data-dir", str(tmp_path), *ARGS)
    assert result.returncode != 0 and "images/train does not exist" in result.stderr


@pytest.mark.distributed
def test_distributed_run(seg_data, tmp_path):
    """Same torchrun/DDP behaviour as the classification trainer (two CPU processes, gloo)."""
    torchrun("train_seg.py", "--data-dir", seg_data, *ARGS, "--epochs", "1", "--output", tmp_path,
             "--experiment", "ddp")
    assert (tmp_path / "ddp" / "last.pth").exists()
