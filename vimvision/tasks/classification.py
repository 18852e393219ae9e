"""Image classification (ours or any timm model) on timm's datasets, augmentation, Mixup/CutMix and losses."""
from __future__ import annotations

import argparse

import torch
import torch.nn as nn
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from ..data import create_eval_loader, create_train_loader, folder_class_map
from ..data.digits import NUM_CLASSES as DIGITS_CLASSES
from ..engine.driver import Task
from ..engine.evaluation import evaluate
from ..factory import create_model


class ClassificationTask(Task):
    prog = "train.py"
    best_metric = "top1"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        g = p.add_argument_group("data")
        g.add_argument("--data-dir", default=None, help="ImageNet-style folder with train/ and val/ class folders")
        g.add_argument("--dataset", default="", help="'' (folder), 'digits' (embedded, no download) or a timm spec")
        g.add_argument("--train-split", default="train")
        g.add_argument("--val-split", default="validation")
        g.add_argument("--img-size", type=int, default=None, help="input size (default: the model's)")
        g.add_argument("--validation-batch-size", type=int, default=None)
        g.add_argument("--aa", default=None, help="RandAugment, e.g. rand-m9-mstd0.5-inc1")
        g.add_argument("--color-jitter", type=float, default=0.4)
        g.add_argument("--reprob", type=float, default=0.0, help="random erasing probability")
        g.add_argument("--remode", default="pixel", choices=["pixel", "rand", "const"],
                       help="random erasing fill (timm's train.py default and both official recipes: pixel)")
        g.add_argument("--train-interpolation", default="bicubic")
        g.add_argument("--aug-repeats", type=int, default=0, help="repeated augmentation (DeiT/Vim use 3)")
        g = p.add_argument_group("model")
        g.add_argument("--model", default="vim_tiny")
        g.add_argument("--pretrained", action="store_true")
        g.add_argument("--num-classes", type=int, default=None)
        g.add_argument("--drop-path", type=float, default=None)
        g = p.add_argument_group("loss")
        g.add_argument("--smoothing", type=float, default=0.1)
        g.add_argument("--mixup", type=float, default=0.0)
        g.add_argument("--cutmix", type=float, default=0.0)
        g.add_argument("--mixup-prob", type=float, default=1.0)
        g.add_argument("--mixup-switch-prob", type=float, default=0.5)
        g.add_argument("--mixup-mode", default="batch")

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        kwargs = dict(args.model_kwargs)
        if args.num_classes is not None:
            kwargs["num_classes"] = args.num_classes
        if args.drop_path is not None:
            kwargs["drop_path_rate"] = args.drop_path
        if args.pretrained_path:
            kwargs["pretrained_cfg_overlay"] = dict(file=args.pretrained_path)
        return create_model(args.model, args.img_size, pretrained=args.pretrained, **kwargs)

    def build_data(self, args: argparse.Namespace, model: nn.Module):
        augment = dict(re_prob=args.reprob, re_mode=args.remode, auto_augment=args.aa, color_jitter=args.color_jitter,
                       interpolation=args.train_interpolation, num_aug_repeats=args.aug_repeats)
        try:
            class_map = folder_class_map(args.data_dir, args.train_split, args.val_split) if not args.dataset else None
            classes = len(class_map) if class_map else DIGITS_CLASSES if args.dataset == "digits" else None
            if classes and classes > model.num_classes:  # labels past the head would fail mid-epoch
                raise ValueError(f"--num-classes {model.num_classes} is smaller than the {classes} classes of "
                                 f"{args.data_dir or args.dataset}: pass --num-classes {classes}")
            train, sampler = create_train_loader(args.dataset, args.data_dir, args.train_split, model, args.img_size,
                                                 args.batch_size, args.workers, args.distributed, args.seed, augment,
                                                 class_map)
            evals = create_eval_loader(args.dataset, args.data_dir, args.val_split, model, args.img_size,
                                       args.validation_batch_size or args.batch_size, args.workers, args.distributed,
                                       class_map)
        except ValueError as error:
            raise SystemExit(f"{self.prog}: {error}") from None
        return train, evals, sampler

    def step_loss(self, args: argparse.Namespace, model: nn.Module, train_model: nn.Module, device: torch.device):
        mixup = (Mixup(mixup_alpha=args.mixup, cutmix_alpha=args.cutmix, prob=args.mixup_prob,
                       switch_prob=args.mixup_switch_prob, mode=args.mixup_mode, label_smoothing=args.smoothing,
                       num_classes=model.num_classes) if args.mixup > 0 or args.cutmix > 0 else None)
        criterion = (SoftTargetCrossEntropy() if mixup else
                     LabelSmoothingCrossEntropy(args.smoothing) if args.smoothing else nn.CrossEntropyLoss())

        def step_loss(batch):
            images, targets = (t.to(device) for t in batch)
            if args.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            if mixup is not None:
                images, targets = mixup(images, targets)
            return criterion(train_model(images), targets), images.shape[0]

        return step_loss

    def evaluate(self, args, model, loader, device, amp_dtype) -> dict:
        return evaluate(model, loader, device, amp_dtype, args.channels_last)

