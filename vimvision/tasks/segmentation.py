"""Semantic segmentation (our backbone + UperNet) on image/mask folders, scored by mIoU and pixel accuracy."""
from __future__ import annotations

import argparse

import torch
import torch.nn as nn

from ..data.segfolder import IGNORE_INDEX, SegFolder, pad_collate
from ..dense import segmentation_model
from ..dense.inference import segment_probs
from ..engine.driver import Task
from .dense_common import add_backbone_arguments, dense_loaders, init_cfg


@torch.no_grad()
def evaluate_segmentation(model: nn.Module, loader, num_classes: int, device: torch.device,
                          **inference) -> dict:
    """mIoU over classes present in prediction or truth, and pixel accuracy (ignore pixels excluded), in %.

    `inference` passes to `segment_probs` (mode whole/slide, crop, stride, flip, scales)."""
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long, device=device)
    for images, masks in loader:
        images, masks = images.to(device), masks.to(device)
        pred = segment_probs(lambda x: model(x)["out"], images, **inference).argmax(1)
        valid = masks != IGNORE_INDEX
        pairs = masks[valid] * num_classes + pred[valid]
        confusion += torch.bincount(pairs, minlength=num_classes**2).view(num_classes, -1)
    if torch.distributed.is_initialized():
        torch.distributed.all_reduce(confusion)
    tp = confusion.diag().double()
    union = confusion.sum(0) + confusion.sum(1) - confusion.diag()
    present = union > 0
    return {"mIoU": (100 * tp[present] / union[present]).mean().item(),
            "pixel_acc": (100 * tp.sum() / confusion.sum().clamp(min=1)).item()}


class SegmentationTask(Task):
    prog = "train_seg.py"
    best_metric = "mIoU"
    experiment_name = "upernet_{backbone}"
    title_text = "UperNet + {backbone}"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--train-split", default="train")
        p.add_argument("--val-split", default="val")
        p.add_argument("--num-classes", type=int, required=True)
        p.add_argument("--head-channels", type=int, default=512)
        p.add_argument("--crop-size", type=int, default=512)
        g = p.add_argument_group("evaluation (as mmseg's test_cfg and TTA)")
        g.add_argument("--eval-mode", default="whole", choices=["whole", "slide"],
                       help="whole image, or sliding windows of --eval-crop every --eval-stride pixels")
        g.add_argument("--eval-crop", type=int, default=None, help="window size (default: --crop-size)")
        g.add_argument("--eval-stride", type=int, default=None, help="window stride (default: 2/3 of the window)")
        g.add_argument("--flip-tta", action="store_true", help="also predict the mirrored image; average softmax")
        g.add_argument("--tta-scales", type=float, nargs="+", default=[1.0],
                       help="image scales to average over, e.g. 0.5 0.75 1.0 1.25 1.5 1.75 (mmseg's MS test)")
        add_backbone_arguments(p, lr=6e-5, weight_decay=0.01, sched="poly", epochs=50, batch_size=8,
                               output="output/seg")

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        return segmentation_model(args.backbone, args.num_classes, head_channels=args.head_channels, **init_cfg(args),
                                  **args.model_kwargs)

    def inference_options(self, args: argparse.Namespace) -> dict:
        """segment_probs' options from the evaluation flags; a bad value is named before training starts."""
        crop = args.crop_size if args.eval_crop is None else args.eval_crop
        stride = max(1, crop * 2 // 3) if args.eval_stride is None else args.eval_stride
        if args.eval_mode == "whole" and (args.eval_crop is not None or args.eval_stride is not None):
            raise SystemExit(f"{self.prog}: --eval-crop / --eval-stride apply to --eval-mode slide, not whole")
        if crop < 1 or not 0 < stride <= crop:
            raise SystemExit(f"{self.prog}: --eval-crop {crop} / --eval-stride {stride}: expected a window of at least "
                             "1 pixel and 0 < stride <= window")
        if any(scale <= 0 for scale in args.tta_scales):
            raise SystemExit(f"{self.prog}: --tta-scales has {args.tta_scales}, expected positive scales")
        return dict(mode=args.eval_mode, crop=crop, stride=stride, flip=args.flip_tta, scales=args.tta_scales)

    def build_data(self, args: argparse.Namespace, model: nn.Module):
        self.inference = self.inference_options(args)
        try:
            train_set = SegFolder(args.data_dir, args.train_split, args.crop_size, train=True)
            val_set = SegFolder(args.data_dir, args.val_split, args.crop_size)
        except FileNotFoundError as e:
            raise SystemExit(f"{self.prog}: {e}") from None
        return dense_loaders(self.prog, args, train_set, val_set, pad_collate)

    def step_loss(self, args, model, train_model, device):
        loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)

        def step_loss(batch):
            images, masks = (t.to(device) for t in batch)
            return loss_fn(train_model(images)["out"].float(), masks), images.shape[0]

        return step_loss

    def evaluate(self, args, model, loader, device, amp_dtype) -> dict:
        return evaluate_segmentation(model, loader, args.num_classes, device, **self.inference)
