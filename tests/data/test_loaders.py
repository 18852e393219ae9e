"""Classification loaders: both splits of a folder dataset share the training split's class indices."""
from __future__ import annotations

import pytest
import timm
from PIL import Image

from vimvision.data import create_eval_loader, folder_class_map


def make_folder(root, split: str, classes: list[str]) -> None:
    for name in classes:
        (root / split / name).mkdir(parents=True)
        Image.new("RGB", (8, 8), color=(10 * len(name), 0, 0)).save(root / split / name / "0.png")


def test_validation_lacking_a_class_keeps_training_indices(tmp_path):
    make_folder(tmp_path, "train", ["cat", "dog", "eel"])
    make_folder(tmp_path, "val", ["dog", "eel"])
    class_map = folder_class_map(str(tmp_path), "train", "validation")
    assert class_map == {"cat": 0, "dog": 1, "eel": 2}
    model = timm.create_model("vmamba_tiny", depths=[1, 1, 1, 1], dims=8, num_classes=3)
    loader = create_eval_loader("", str(tmp_path), "validation", model, 32, 4, 0, class_map=class_map)
    assert sorted(int(t) for _, targets in loader for t in targets) == [1, 2]  # not [0, 1]


def test_validation_class_unseen_in_training_is_named(tmp_path):
    make_folder(tmp_path, "train", ["cat"])
    make_folder(tmp_path, "val", ["cat", "owl"])
    with pytest.raises(ValueError, match="val has classes that .*train lacks: owl"):
        folder_class_map(str(tmp_path), "train", "validation")


def test_corrupt_segmentation_image_is_named(tmp_path):
    from vimvision.data.segfolder import SegFolder

    for sub in ("images/train", "masks/train"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "images/train/0.png").write_bytes(b"not a png")
    Image.new("L", (8, 8)).save(tmp_path / "masks/train/0.png")
    with pytest.raises(ValueError, match=f"cannot read {tmp_path / 'images/train/0.png'}"):
        SegFolder(tmp_path, "train", crop=8)[0]
    Image.new("RGB", (8, 6)).save(tmp_path / "images/train/0.png")
    with pytest.raises(ValueError, match="mask .*0.png is 8x8, expected the size of its image"):
        SegFolder(tmp_path, "train", crop=8)[0]
