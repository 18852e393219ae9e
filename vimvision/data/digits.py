"""The embedded default dataset: scikit-learn's 8x8 handwritten digits (shipped inside the package,
no download), upscaled to RGB images so that any of our models can train on it on a CPU in minutes."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

NUM_CLASSES = 10
# mean/std of the upscaled training images (per channel, identical channels)
MEAN, STD = (0.3049,) * 3, (0.3234,) * 3


class Digits(Dataset):
    """Split 'train' (first 80 % after a fixed shuffle) or 'validation'; items are (3, size, size) tensors
    normalized with MEAN/STD, and labels 0..9. Training items get a small random translation."""

    def __init__(self, split: str = "train", img_size: int = 32, augment: bool = False, seed: int = 0):
        from sklearn.datasets import load_digits

        if split not in ("train", "validation"):
            raise ValueError(f"Digits: split has {split!r}, expected 'train' or 'validation'")
        data = load_digits()
        order = torch.randperm(len(data.target), generator=torch.Generator().manual_seed(seed))
        cut = int(0.8 * len(order))
        idx = order[:cut] if split == "train" else order[cut:]
        images = torch.tensor(data.images, dtype=torch.float32)[idx] / 16.0
        images = F.interpolate(images[:, None], size=(img_size, img_size), mode="bilinear", align_corners=False)
        self.images = ((images - MEAN[0]) / STD[0]).expand(-1, 3, -1, -1).contiguous()
        self.targets = torch.tensor(data.target, dtype=torch.long)[idx]
        self.augment = augment
        self.pad = max(1, img_size // 16)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        image = self.images[i]
        if self.augment:  # random shift by up to `pad` pixels (global torch RNG: resumable)
            padded = F.pad(image, (self.pad,) * 4, value=float(image.min()))
            dy, dx = torch.randint(0, 2 * self.pad + 1, (2,)).tolist()
            image = padded[:, dy : dy + image.shape[1], dx : dx + image.shape[2]]
        return image, self.targets[i]
