"""Our configs end to end in mmengine's Runner, as users run mmdet/mmseg: train a few iterations on a generated
tiny COCO / ADE20K set (data pipeline, hooks, CocoMetric / IoUMetric validation, checkpoints), resume from
the last checkpoint (torch >= 2.6's weights_only load of mmengine's own files), then the framework's own
tools/test.py on that checkpoint with --show-dir. Real-width tiny backbones (VMamba-T at full depth; Vim-T cut
to 4 blocks for CI time) on 96-160 px images, sizes not multiples of 32."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from tests.dense.mm.stack import require_mm_stack
from tests.dense.mm.tiny_data import make_ade, make_coco
from tests.helpers import ROOT

require_mm_stack()

pytestmark = pytest.mark.slow


def _loader(loader, root: Path, pipeline_scale: tuple, **dataset) -> None:
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader.dataset.update(data_root=str(root), **dataset)
    for transform in loader.dataset.pipeline:
        if transform.type in ("Resize", "RandomResize"):
            transform.scale = pipeline_scale


def _finish(cfg: Config, work_dir: Path) -> Config:
    cfg.work_dir = str(work_dir)
    cfg.env_cfg.dist_cfg.backend = "gloo"
    cfg.default_hooks.logger.interval = 1
    cfg.model.backbone.pop("init_cfg")
    cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator
    return cfg


def _framework_test(scope: str, cfg: Config, checkpoint: Path, show_dir: Path) -> str:
    """`python <scope>/.mim/tools/test.py CONFIG CHECKPOINT --show-dir DIR`, as the framework documents it."""
    config = Path(cfg.work_dir) / "config.py"
    cfg.dump(str(config))
    tool = Path(__import__(scope).__file__).parent / ".mim" / "tools" / "test.py"
    result = subprocess.run([sys.executable, str(tool), str(config), str(checkpoint), "--show-dir", str(show_dir),
                             "--work-dir", cfg.work_dir], capture_output=True, text=True, cwd=cfg.work_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def detection_cfg(root: Path) -> Config:
    make_coco(root, "train", [(128, 160), (112, 144), (128, 128), (96, 160)])
    make_coco(root, "val", [(128, 160), (100, 150)], seed=1)
    cfg = Config.fromfile(str(ROOT / "configs/mmdet/mask_rcnn_vmamba_tiny_fpn_1x_coco.py"))
    for loader, split in ((cfg.train_dataloader, "train"), (cfg.val_dataloader, "val")):
        _loader(loader, root, (160, 128), ann_file=f"annotations/instances_{split}.json",
                data_prefix=dict(img=f"{split}/"), metainfo=dict(classes=("person", "car")))
    cfg.val_evaluator.ann_file = str(root / "annotations" / "instances_val.json")
    cfg.model.roi_head.bbox_head.num_classes = cfg.model.roi_head.mask_head.num_classes = 2
    cfg.model.test_cfg.rcnn.score_thr = 0.0  # a few random-weight iterations may score nothing above 0.05
    cfg.randomness = dict(seed=0)
    cfg.train_cfg.max_epochs = 2
    cfg.param_scheduler[0].end = 2
    return _finish(cfg, root / "work")


def test_mask_rcnn_trains_validates_resumes_and_tests(tmp_path):
    cfg = detection_cfg(tmp_path)
    runner = Runner.from_cfg(cfg.copy())
    runner.train()
    metrics = runner.val_loop.run()
    assert {"coco/bbox_mAP", "coco/segm_mAP"} <= metrics.keys()
    assert (tmp_path / "work" / "epoch_2.pth").is_file()

    cfg.train_cfg.max_epochs, cfg.resume = 3, True
    resumed = Runner.from_cfg(cfg.copy())
    resumed.train()
    assert resumed.epoch == 3 and resumed.iter == 6  # 2 epochs of 2 iterations restored, one more run

    log = _framework_test("mmdet", cfg, tmp_path / "work" / "epoch_3.pth", tmp_path / "shown")
    assert "coco/bbox_mAP" in log and "do not match" not in log
    assert len(list((tmp_path / "shown").rglob("*.jpg"))) == 2


@pytest.mark.parametrize("config,depth", [("upernet_vmamba_tiny_ade20k_512x512_160k.py", None),
                                          ("upernet_vim_tiny_ade20k_512x512_60k.py", 4)])
def test_upernet_trains_validates_resumes_and_tests(config, depth, tmp_path):
    make_ade(tmp_path, "training", [(120, 150), (100, 130), (128, 128), (96, 140)])
    make_ade(tmp_path, "validation", [(100, 150), (90, 120)], seed=1)
    cfg = Config.fromfile(str(ROOT / "configs" / "mmseg" / config))
    for loader, split in ((cfg.train_dataloader, "training"), (cfg.val_dataloader, "validation")):
        _loader(loader, tmp_path, (200, 100), data_prefix=dict(img_path=f"images/{split}",
                                                                seg_map_path=f"annotations/{split}"))
    cfg.val_dataloader.batch_size = 1  # mmseg tests whole images of one size per batch
    for transform in cfg.train_dataloader.dataset.pipeline:
        if transform.type == "RandomCrop":
            transform.crop_size = (96, 96)
    cfg.model.data_preprocessor.size = (96, 96)
    for head in (cfg.model.decode_head, cfg.model.auxiliary_head):
        head.norm_cfg = dict(type="BN", requires_grad=True)  # SyncBN needs a process group
    if cfg.model.test_cfg.get("mode") == "slide":
        cfg.model.test_cfg.update(crop_size=(64, 64), stride=(48, 48))
    if depth:
        cfg.model.backbone.update(depth=depth, out_indices=(0, 1, 2, 3))
    cfg.train_cfg.update(max_iters=4, val_interval=2)
    cfg.param_scheduler = [dict(type="PolyLR", power=1.0, begin=0, end=6, by_epoch=False)]
    cfg.default_hooks.checkpoint.update(interval=2, save_best=None)
    cfg.default_hooks.visualization.interval = 1  # mmseg draws every 50th image by default
    cfg = _finish(cfg, tmp_path / "work")
    runner = Runner.from_cfg(cfg.copy())
    runner.train()
    assert {"mIoU", "aAcc"} <= runner.val_loop.run().keys()

    cfg.train_cfg.max_iters, cfg.resume = 6, True
    resumed = Runner.from_cfg(cfg.copy())
    resumed.train()
    assert resumed.iter == 6

    log = _framework_test("mmseg", cfg, tmp_path / "work" / "iter_6.pth", tmp_path / "shown")
    assert "mIoU" in log and "do not match" not in log
    assert len(list((tmp_path / "shown").rglob("*.png"))) == 2
