"""Detection and instance segmentation (torchvision detectors on our backbones) on COCO-format data,
scored by COCO AP from pycocotools. Labels are COCO category ids (num_classes = max id + 1, torchvision's
convention)."""
from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import torch
import torch.nn as nn
import torchvision.transforms.v2 as T
from torchvision.datasets import CocoDetection, wrap_dataset_for_transforms_v2

from ..dense import torchvision_detector
from ..engine.driver import Task
from .dense_common import add_backbone_arguments, dense_loaders, init_cfg


def coco_dataset(root: Path, images: str, ann: str, train: bool, masks: bool):
    for path in (root / images, root / ann):
        if not path.exists():
            raise ValueError(f"{path} does not exist")
    flip = [T.RandomHorizontalFlip()] if train else []
    transform = T.Compose([T.ToImage(), *flip, T.ToDtype(torch.float32, scale=True)])
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints index progress
        dataset = CocoDetection(str(root / images), str(root / ann), transforms=transform)
    keys = ("image_id", "boxes", "labels") + (("masks",) if masks else ())
    return wrap_dataset_for_transforms_v2(dataset, target_keys=keys)


def collate(batch):
    return tuple(zip(*batch))


@torch.no_grad()
def coco_map(model: nn.Module, loader, coco_gt, device: torch.device, masks: bool) -> dict:
    """COCO AP (bbox, and segm for Mask R-CNN) in %, via pycocotools' COCOeval."""
    from pycocotools import mask as mask_utils
    from pycocotools.cocoeval import COCOeval

    model.eval()
    results = {"bbox": [], "segm": []}
    for images, targets in loader:
        outputs = model([img.to(device) for img in images])
        for target, out in zip(targets, outputs):
            image_id = int(target["image_id"])
            boxes = out["boxes"].cpu()
            boxes[:, 2:] -= boxes[:, :2]  # xyxy -> xywh
            for k in range(len(boxes)):
                det = {"image_id": image_id, "category_id": int(out["labels"][k]), "score": float(out["scores"][k])}
                results["bbox"].append({**det, "bbox": [round(float(v), 2) for v in boxes[k]]})
                if masks:
                    binary = (out["masks"][k, 0] > 0.5).cpu().numpy().astype("uint8", order="F")
                    rle = mask_utils.encode(binary)
                    rle["counts"] = rle["counts"].decode()
                    results["segm"].append({**det, "segmentation": rle})
    metrics = {}
    for kind in ("bbox", "segm") if masks else ("bbox",):
        if not results[kind]:
            metrics[f"{kind}_AP"], metrics[f"{kind}_AP50"] = 0.0, 0.0
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator = COCOeval(coco_gt, coco_gt.loadRes(results[kind]), kind)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        metrics[f"{kind}_AP"], metrics[f"{kind}_AP50"] = (float(100 * evaluator.stats[0]),
                                                          float(100 * evaluator.stats[1]))
    return metrics


class DetectionTask(Task):
    prog = "train_det.py"
    best_metric = "bbox_AP"
    experiment_name = "{arch}_{backbone}"
    title_text = "{arch} + {backbone}"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--train-images", default="train2017")
        p.add_argument("--train-ann", default="annotations/instances_train2017.json")
        p.add_argument("--val-images", default="val2017")
        p.add_argument("--val-ann", default="annotations/instances_val2017.json")
        p.add_argument("--arch", default="mask_rcnn", choices=["faster_rcnn", "mask_rcnn", "retinanet"])
        p.add_argument("--num-classes", type=int, default=91, help="max category id + 1 (COCO: 91)")
        p.add_argument("--min-size", type=int, default=800)
        p.add_argument("--max-size", type=int, default=1333)
        add_backbone_arguments(p, lr=1e-4, weight_decay=0.05, sched="cosine", epochs=12, batch_size=2,
                               output="output/det")

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        return torchvision_detector(args.backbone, args.arch, args.num_classes,
                                    detector_kwargs=dict(min_size=args.min_size, max_size=args.max_size),
                                    **init_cfg(args), **args.model_kwargs)

    def build_data(self, args: argparse.Namespace, model: nn.Module):
        masks = args.arch == "mask_rcnn"
        try:
            train_set = coco_dataset(Path(args.data_dir), args.train_images, args.train_ann, True, masks)
            val_set = coco_dataset(Path(args.data_dir), args.val_images, args.val_ann, False, masks)
        except ValueError as error:
            raise SystemExit(f"{self.prog}: {error}") from None
        self.coco_gt = val_set.coco if hasattr(val_set, "coco") else val_set._dataset.coco
        return dense_loaders(self.prog, args, train_set, val_set, collate)

    def step_loss(self, args, model, train_model, device):
        def step_loss(batch):
            images, targets = batch
            images = [img.to(device) for img in images]
            targets = [{k: (v.to(device) if torch.is_tensor(v) else v) for k, v in t.items()} for t in targets]
            losses = train_model(images, targets)
            return sum(losses.values()), len(images)

        return step_loss

    def evaluate(self, args, model, loader, device, amp_dtype) -> dict:
        return coco_map(model, loader, self.coco_gt, device, args.arch == "mask_rcnn")
