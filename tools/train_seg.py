"""Train and evaluate semantic segmentation (our backbone + UperNet) on image/mask folders.

    python tools/train_seg.py --data-dir DATA --backbone vmamba_tiny --num-classes 150 --pretrained-path FILE
    torchrun --nproc_per_node 8 tools/train_seg.py --data-dir DATA --backbone vim_small --num-classes 150

DATA holds images/{train,val}/NAME.jpg and masks/{train,val}/NAME.png (class ids, 255 = ignore).
Reports mIoU and pixel accuracy every epoch; progress, summary.csv, TensorBoard, curves.png, atomic
checkpoints and --resume behave as in tools/train.py (the same loop, vimvision.engine).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn as nn
from timm.utils import init_distributed_device, random_seed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vimvision.data.segfolder import IGNORE_INDEX, SegFolder, pad_collate  # noqa: E402
from vimvision.dense import segmentation_model  # noqa: E402
from vimvision.engine import add_dense_arguments, dense_trainer  # noqa: E402


@torch.no_grad()
def evaluate_segmentation(model: nn.Module, loader, num_classes: int, device: torch.device) -> dict:
    """mIoU over classes present in prediction or truth, and pixel accuracy (ignore pixels excluded), in %."""
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long, device=device)
    for images, masks in loader:
        images, masks = images.to(device), masks.to(device)
        pred = model(images)["out"].argmax(1)
        valid = masks != IGNORE_INDEX
        confusion += torch.bincount(masks[valid] * num_classes + pred[valid], minlength=num_classes**2).view(num_classes, -1)
    if torch.distributed.is_initialized():
        torch.distributed.all_reduce(confusion)
    tp = confusion.diag().double()
    union = confusion.sum(0) + confusion.sum(1) - confusion.diag()
    present = union > 0
    return {"mIoU": (100 * tp[present] / union[present]).mean().item(),
            "pixel_acc": (100 * tp.sum() / confusion.sum().clamp(min=1)).item()}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--train-split", default="train")
    p.add_argument("--val-split", default="val")
    p.add_argument("--num-classes", type=int, required=True)
    p.add_argument("--head-channels", type=int, default=512)
    p.add_argument("--crop-size", type=int, default=512)
    add_dense_arguments(p, lr=6e-5, weight_decay=0.01, sched="poly", epochs=50,
                        batch_size=8, output="output/seg")
    args = p.parse_args(argv)
    device = init_distributed_device(args)
    random_seed(args.seed, args.rank)
    out_dir = Path(args.output) / (args.experiment or f"upernet_{args.backbone}")
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        train_set = SegFolder(args.data_dir, args.train_split, args.crop_size, train=True)
        val_set = SegFolder(args.data_dir, args.val_split, args.crop_size)
    except FileNotFoundError as e:
        raise SystemExit(f"train_seg.py: {e}")
    init = dict(init_cfg=dict(type="Pretrained", checkpoint=args.pretrained_path)) if args.pretrained_path else {}
    model = segmentation_model(args.backbone, args.num_classes, head_channels=args.head_channels,
                               **init, **args.model_kwargs).to(device)
    sampler = torch.utils.data.DistributedSampler(train_set, seed=args.seed) if args.distributed else None
    train_loader = torch.utils.data.DataLoader(train_set, args.batch_size, shuffle=sampler is None, sampler=sampler,
                                               num_workers=args.workers, collate_fn=pad_collate, drop_last=True)
    val_loader = torch.utils.data.DataLoader(val_set, 1, num_workers=args.workers, collate_fn=pad_collate)
    if len(train_loader) == 0:
        raise SystemExit(f"train_seg.py: batch size {args.batch_size} exceeds the {len(train_set)} training images")
    trainer, train_model = dense_trainer(args, model, device, len(train_loader), out_dir, "mIoU",
                                         f"UperNet + {args.backbone}")
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)

    def step_loss(batch):
        images, masks = (t.to(device) for t in batch)
        return loss_fn(train_model(images)["out"].float(), masks), images.shape[0]

    return trainer.fit(train_loader, step_loss, lambda: evaluate_segmentation(model, val_loader, args.num_classes, device),
                       sampler)


if __name__ == "__main__":
    main()
