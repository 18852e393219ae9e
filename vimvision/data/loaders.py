"""Classification loaders for the trainer and the validator: the embedded digits set, an ImageNet-style
folder, or any timm dataset spec, through timm's datasets, transforms and loaders."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn
from timm.data import create_dataset, create_loader, resolve_data_config
from timm.utils import natural_key

from .digits import Digits


def split_folder(data_dir: str, split: str) -> Path:
    """The folder of a split ('validation' falls back to val/, as timm's folder datasets do)."""
    root = Path(data_dir)
    return root / split if (root / split).is_dir() else root / ("val" if split == "validation" else split)


def check_image_folder(data_dir: Optional[str], splits: list[str]) -> None:
    """A ValueError naming the folder when --data-dir or one of its splits is missing or has no class folders."""
    root = Path(data_dir or "")
    if not data_dir or not root.is_dir():
        raise ValueError(f"--data-dir {data_dir!r} is not a folder (expected train/ and val/ class folders)")
    for split in splits:
        split_dir = split_folder(data_dir, split)
        if not split_dir.is_dir() or not any(d.is_dir() for d in split_dir.iterdir()):
            raise ValueError(f"{split_dir} is missing or has no class folders")


def folder_class_map(data_dir: str, train_split: str, eval_split: str) -> dict:
    """Class name -> index from the training split's folders, for both splits: a validation split that lacks a
    class keeps the training indices instead of shifting them; one with a class training never saw is an error."""
    check_image_folder(data_dir, [train_split, eval_split])
    names = {split: {d.name for d in split_folder(data_dir, split).iterdir() if d.is_dir()}
             for split in (train_split, eval_split)}
    unseen = sorted(names[eval_split] - names[train_split])
    if unseen:
        raise ValueError(f"{split_folder(data_dir, eval_split)} has classes that {split_folder(data_dir, train_split)} "
                         f"lacks: {', '.join(unseen[:10])}")
    return {name: i for i, name in enumerate(sorted(names[train_split], key=natural_key))}


def create_eval_loader(dataset: str, data_dir: Optional[str], split: str, model: nn.Module, img_size: Optional[int],
                       batch_size: int, workers: int, distributed: bool = False, class_map: Optional[dict] = None):
    """Evaluation loader with the model's pre-processing (resize, center crop, mean/std from its cfg);
    class_map (name -> index) fixes a folder dataset's labels, e.g. to the training split's."""
    if dataset == "digits":
        return torch.utils.data.DataLoader(Digits(split, img_size or 32), batch_size, num_workers=0)
    if not dataset:
        check_image_folder(data_dir, [split])
    cfg = resolve_data_config({"img_size": img_size}, model=model)
    return create_loader(
        create_dataset(dataset, root=data_dir, split=split, is_training=False, class_map=class_map or ""),
        input_size=cfg["input_size"],
        batch_size=batch_size, is_training=False, interpolation=cfg["interpolation"], mean=cfg["mean"],
        std=cfg["std"], crop_pct=cfg["crop_pct"], num_workers=workers, distributed=distributed, use_prefetcher=False,
    )


def create_train_loader(dataset: str, data_dir: Optional[str], split: str, model: nn.Module, img_size: Optional[int],
                        batch_size: int, workers: int, distributed: bool, seed: int, augment: dict,
                        class_map: Optional[dict] = None):
    """(training loader, its sampler or None). `augment`: timm create_loader's augmentation arguments
    (re_prob, re_mode, auto_augment, color_jitter, interpolation, num_aug_repeats); digits only shifts."""
    if dataset == "digits":
        train_set = Digits("train", img_size or 32, augment=True)
        sampler = torch.utils.data.DistributedSampler(train_set, seed=seed) if distributed else None
        loader = torch.utils.data.DataLoader(train_set, batch_size, shuffle=sampler is None, sampler=sampler,
                                             drop_last=True, num_workers=0)
        return loader, sampler
    if not dataset:
        check_image_folder(data_dir, [split])
    cfg = resolve_data_config({"img_size": img_size}, model=model)
    loader = create_loader(
        create_dataset(dataset, root=data_dir, split=split, is_training=True, class_map=class_map or ""),
        input_size=cfg["input_size"],
        batch_size=batch_size, is_training=True, no_aug=False, mean=cfg["mean"], std=cfg["std"], num_workers=workers,
        distributed=distributed, use_prefetcher=False, **augment,
    )
    return loader, getattr(loader, "sampler", None)
