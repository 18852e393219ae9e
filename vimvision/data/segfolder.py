"""Semantic segmentation from plain folders: images/<split>/NAME.(jpg|png) with masks/<split>/NAME.png
(uint8 class ids; 255 = ignore), transformed jointly with torchvision's v2 transforms."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2 as T
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors

IGNORE_INDEX = 255
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class SegFolder(Dataset):
    """Training items: random rescale (0.5-2x of `crop`), crop to `crop`, horizontal flip. Evaluation
    items: short side resized to `crop`. Batches are padded by `pad_collate`."""

    def __init__(self, root: str | Path, split: str, crop: int = 512, train: bool = False):
        root = Path(root)
        images, masks = root / "images" / split, root / "masks" / split
        for folder in (images, masks):
            if not folder.is_dir():
                raise FileNotFoundError(f"SegFolder: {folder} does not exist "
                                        "(expected images/<split> and masks/<split>)")
        self.items = []
        for image in sorted(p for p in images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
            mask = masks / f"{image.stem}.png"
            if not mask.is_file():
                raise FileNotFoundError(f"SegFolder: mask {mask} for image {image.name} is missing")
            self.items.append((image, mask))
        if not self.items:
            raise FileNotFoundError(f"SegFolder: no images in {images}")
        tail = [T.ToDtype(torch.float32, scale=True), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
        fill = {tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX}
        if train:
            self.transform = T.Compose([T.ToImage(), T.RandomResize(crop // 2, crop * 2),
                                        T.RandomCrop(crop, pad_if_needed=True, fill=fill), T.RandomHorizontalFlip(),
                                        *tail])
        else:
            self.transform = T.Compose([T.ToImage(), T.Resize(crop), *tail])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        image_path, mask_path = self.items[i]
        image, mask = _read(image_path, "RGB"), _read(mask_path, None)
        if image.size != mask.size:
            raise ValueError(f"SegFolder: mask {mask_path} is {mask.size[0]}x{mask.size[1]}, expected the size of "
                             f"its image {image_path} ({image.size[0]}x{image.size[1]})")
        mask = tv_tensors.Mask(torch.from_numpy(np.array(mask, dtype=np.uint8)))
        image, mask = self.transform(image, mask)
        return image, mask.long()


def _read(path: Path, mode: str | None) -> Image.Image:
    """The decoded file, or an error naming it (a worker's traceback would not)."""
    try:
        with Image.open(path) as image:
            return image.convert(mode) if mode else image.copy()
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"SegFolder: cannot read {path}: {e}") from None


def pad_collate(batch):
    """Pads images (zeros) and masks (ignore) to a common size divisible by 32."""
    H = -(-max(img.shape[-2] for img, _ in batch) // 32) * 32
    W = -(-max(img.shape[-1] for img, _ in batch) // 32) * 32
    images = torch.zeros(len(batch), 3, H, W)
    masks = torch.full((len(batch), H, W), IGNORE_INDEX, dtype=torch.long)
    for k, (img, mask) in enumerate(batch):
        images[k, :, : img.shape[-2], : img.shape[-1]] = img
        masks[k, : mask.shape[-2], : mask.shape[-1]] = mask
    return images, masks
