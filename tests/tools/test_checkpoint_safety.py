"""Training checkpoints: a planted or tampered file never runs code on any path that reads one, damaged
files are named (and skipped by --resume auto), and saving never leaves a torn or stale file behind."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import ROOT
from vimvision.engine import LoopConfig, Trainer
from vimvision.engine.checkpoint import load_training_checkpoint, remove_stale_temporaries, save_atomic


class _RunsCode:
    """Unpickling this runs `touch MARKER`: the payload an attacker would plant."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {}, "optimizer": {}, "num_updates": 10**9, "payload": _RunsCode(marker)}, path)
    return path


def test_malicious_checkpoint_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"
    path = plant(tmp_path / "last.pth", marker)
    with pytest.raises(ValueError, match="refused without running them.*posix.system"):
        load_training_checkpoint(path)
    with pytest.raises(ValueError, match="refused"):
        load_training_checkpoint(path, mmap=True)
    assert not marker.exists()


def _trainer(out_dir: Path) -> Trainer:
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return Trainer(model, model, opt, None, None, None, out_dir, False, LoopConfig(epochs=1), {})


def _good(path: Path, num_updates: int) -> None:
    save_atomic({"model": {}, "optimizer": {}, "num_updates": num_updates}, path)


def test_auto_resume_reads_candidates_safely_and_skips_damaged_ones(tmp_path, capsys):
    marker = tmp_path / "ran"
    trainer = _trainer(tmp_path)
    trainer.primary = True
    plant(tmp_path / "last.pth", marker)
    _good(tmp_path / "recovery.pth", 3)
    assert trainer.find_resume("auto") == str(tmp_path / "recovery.pth")
    assert not marker.exists()
    assert f"skipping {tmp_path / 'last.pth'}" in capsys.readouterr().out

    _good(tmp_path / "last.pth", 5)
    assert trainer.find_resume("auto") == str(tmp_path / "last.pth")  # the newer of two intact files
    (tmp_path / "last.pth").write_bytes((tmp_path / "last.pth").read_bytes()[:-100])  # truncated by a crash
    assert trainer.find_resume("auto") == str(tmp_path / "recovery.pth")
    assert "not a complete checkpoint" in capsys.readouterr().out
    (tmp_path / "recovery.pth").write_bytes(b"")
    assert trainer.find_resume("auto") == ""  # nothing intact: start afresh


def test_bit_flip_is_detected(tmp_path):
    path = tmp_path / "last.pth"
    save_atomic({"model": {"w": torch.randn(4096)}, "optimizer": {}, "num_updates": 1}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is corrupt .*CRC-32"):
        load_training_checkpoint(path)


def test_foreign_file_is_named(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="is not a vimvision training checkpoint"):
        load_training_checkpoint(path)


def test_failed_save_removes_its_temporary_and_names_the_path(tmp_path, monkeypatch):
    def full_disk(obj, f):
        Path(f).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    _good(tmp_path / "last.pth", 1)
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=f"cannot write checkpoint '{tmp_path / 'last.pth'}': No space left"):
        _good(tmp_path / "last.pth", 2)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["last.pth"]
    assert load_training_checkpoint(tmp_path / "last.pth")["num_updates"] == 1  # the old file is intact


def test_temporaries_of_a_killed_save_are_removed(tmp_path):
    (tmp_path / ".last.pth.tmp1234").write_bytes(b"torn")
    (tmp_path / "keep.txt").write_text("x")
    remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("tool,args", [
    ("train.py", ["--dataset", "digits", "--model", "vmamba_tiny", "--model-kwargs", "depths=[1,1,1,1]", "dims=8",
                  "num_classes=10", "--img-size", "32", "--epochs", "1", "--no-progress"]),
    ("train_seg.py", ["--data-dir", "{seg}", "--backbone", "vmamba_tiny", "--num-classes", "2", "--model-kwargs",
                      "depths=[1,1,1,1]", "dims=8", "--crop-size", "32", "--batch-size", "1", "--workers", "0"]),
    ("train_det.py", ["--data-dir", "{seg}", "--train-images", "images/train", "--train-ann", "train.json",
                      "--val-images", "images/train", "--val-ann", "train.json", "--backbone", "vmamba_tiny",
                      "--arch", "faster_rcnn", "--num-classes", "2", "--model-kwargs", "depths=[1,1,1,1]", "dims=8",
                      "--batch-size", "1", "--workers", "0"]),
])
@pytest.mark.slow
def test_every_trainer_refuses_a_planted_resume_file(tool, args, tmp_path):
    """--resume FILE on each training tool: the tool stops with the file named and the code never runs."""
    import json

    from PIL import Image

    seg = tmp_path / "data"
    for sub in ("images/train", "masks/train", "images/val", "masks/val"):
        (seg / sub).mkdir(parents=True)
        Image.new("RGB" if sub.startswith("images") else "L", (32, 32)).save(seg / sub / "0.png")
    (seg / "train.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "0.png", "width": 32, "height": 32}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 8, 8], "area": 64, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "box"}]}))
    marker = tmp_path / "ran"
    planted = plant(tmp_path / "planted.pth", marker)
    argv = [a.replace("{seg}", str(seg)) for a in args]
    result = subprocess.run([sys.executable, str(ROOT / "tools" / tool), *argv, "--output", str(tmp_path / "out"),
                             "--resume", str(planted)], capture_output=True, text=True)
    assert result.returncode != 0
    assert f"{tool}: --resume: checkpoint '{planted}' holds objects" in result.stderr, result.stderr[-2000:]
    assert not marker.exists()


def test_best_weights_are_saved_before_last(tmp_path):
    """A kill between the two saves of an improving epoch must not leave model_best.pth stale for good:
    the best is written first, so a kill before last.pth replays the epoch, which saves the best again."""
    from timm.scheduler import create_scheduler_v2

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler, _ = create_scheduler_v2(opt, "cosine", num_epochs=1, warmup_epochs=0, updates_per_epoch=2)
    trainer = Trainer(model, model, opt, scheduler, None, None, tmp_path, True, LoopConfig(epochs=1, progress=False),
                      {})
    written = []
    monkey_save = trainer._checkpoint

    def record(name, *args):
        written.append(name)
        monkey_save(name, *args)

    trainer._checkpoint = record
    save_best = trainer._save_best
    trainer._save_best = lambda *a: (written.append("model_best.pth"), save_best(*a))
    batches = [(torch.randn(4, 2), torch.randint(0, 2, (4,))) for _ in range(2)]
    trainer.fit(batches, lambda b: (torch.nn.functional.cross_entropy(model(b[0]), b[1]), 4), lambda: {"top1": 1.0})
    assert written == ["model_best.pth", "last.pth"]
    assert torch.load(tmp_path / "model_best.pth", weights_only=True)["eval_top1"] == 1.0


def test_mm_checkpoint_paths_refuse_a_planted_file(tmp_path):
    """mmdet/mmseg's `load_from`, `resume` and `init_cfg=dict(type='Pretrained')` read files through
    mmengine's load_checkpoint (torch.load with torch's default weights_only=True since torch 2.6, which
    pyproject's torch>=2.11 guarantees) or our backbones' reader: neither runs the payload."""
    from mmengine.registry import MODELS
    from mmengine.runner import load_checkpoint

    import vimvision  # noqa: F401  (registers the backbones)

    marker = tmp_path / "ran"
    path = plant(tmp_path / "iter_100.pth", marker)
    backbone = MODELS.build(dict(type="VMambaBackbone", model_name="vmamba_tiny", depths=[1, 1, 1, 1], dims=8,
                                 init_cfg=dict(type="Pretrained", checkpoint=str(path))))
    with pytest.raises(Exception, match="[Ww]eights only load failed|posix.system"):
        load_checkpoint(backbone, str(path), map_location="cpu")
    with pytest.raises(ValueError, match=r"cannot read checkpoint .*iter_100\.pth.*posix.system"):
        backbone.init_weights()
    assert not marker.exists()
