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
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import ParseKwargs, init_distributed_device, random_seed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vimvision.data.segfolder import IGNORE_INDEX, SegFolder, pad_collate  # noqa: E402
from vimvision.dense import segmentation_model  # noqa: E402
from vimvision.engine import LoopConfig, Trainer  # noqa: E402


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
    p.add_argument("--backbone", default="vmamba_tiny")
    p.add_argument("--num-classes", type=int, required=True)
    p.add_argument("--pretrained-path", default=None, help="backbone weights (official or ours)")
    p.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V", help="backbone overrides")
    p.add_argument("--head-channels", type=int, default=512)
    p.add_argument("--crop-size", type=int, default=512)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", "-b", type=int, default=8)
    p.add_argument("--opt", default="adamw")
    p.add_argument("--lr", type=float, default=6e-5)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--sched", default="poly")
    p.add_argument("--warmup-epochs", type=int, default=1)
    p.add_argument("--clip-grad", type=float, default=None)
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast")
    p.add_argument("--workers", "-j", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--output", default="output/seg")
    p.add_argument("--experiment", default="")
    p.add_argument("--resume", default="", help="checkpoint, or 'auto' for the output folder's newest")
    p.add_argument("--recovery-interval", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--kill-after-steps", type=int, default=0, help=argparse.SUPPRESS)
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
    optimizer = create_optimizer_v2(model, args.opt, lr=args.lr, weight_decay=args.weight_decay)
    scheduler, _ = create_scheduler_v2(optimizer, args.sched, num_epochs=args.epochs, warmup_epochs=args.warmup_epochs,
                                       step_on_epochs=False, updates_per_epoch=len(train_loader))
    train_model = model if not args.distributed else nn.parallel.DistributedDataParallel(
        model, device_ids=[device] if device.type == "cuda" else None)
    cfg = LoopConfig(epochs=args.epochs, clip_grad=args.clip_grad, recovery_interval=args.recovery_interval,
                     kill_after_steps=args.kill_after_steps, progress=not args.no_progress,
                     amp_dtype=torch.bfloat16 if args.amp else None, best_metric="mIoU")
    trainer = Trainer(model, train_model, optimizer, scheduler, None, None, out_dir, args.rank == 0, cfg, vars(args),
                      f"UperNet + {args.backbone}")
    resume = trainer.find_resume(args.resume)
    if resume:
        trainer.resume(resume)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)

    def step_loss(batch):
        images, masks = (t.to(device) for t in batch)
        return loss_fn(train_model(images)["out"].float(), masks), images.shape[0]

    return trainer.fit(train_loader, step_loss, lambda: evaluate_segmentation(model, val_loader, args.num_classes, device),
                       sampler)


if __name__ == "__main__":
    main()
