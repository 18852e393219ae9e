"""Segmentation inference as mmseg evaluates: whole image or sliding windows, with flip / multi-scale TTA.

``slide_logits`` follows mmseg's ``EncoderDecoder.slide_inference`` (windows of ``crop`` every ``stride``, the
last one flush with the border, logits averaged where windows overlap); ``segment_probs`` averages softmax
probabilities over the scales and flips as mmseg's ``SegTTAModel`` does.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Logits = Callable[[torch.Tensor], torch.Tensor]  # (B, 3, H, W) -> (B, classes, H, W)


def _starts(size: int, crop: int, stride: int) -> list[int]:
    count = max(size - crop + stride - 1, 0) // stride + 1
    return [max(min(i * stride + crop, size) - crop, 0) for i in range(count)]


def slide_logits(logits_fn: Logits, images: torch.Tensor, crop: int, stride: int) -> torch.Tensor:
    """Logits of every pixel, averaged over the `crop`-sized windows (every `stride` pixels) that cover it."""
    if not 0 < stride <= crop:
        raise ValueError(f"slide_logits: stride has {stride}, expected 0 < stride <= crop ({crop})")
    H, W = images.shape[-2:]
    total = count = None
    for y in _starts(H, crop, stride):
        for x in _starts(W, crop, stride):
            window = logits_fn(images[..., y:y + crop, x:x + crop])
            if total is None:
                total = images.new_zeros(images.shape[0], window.shape[1], H, W, dtype=window.dtype)
                count = images.new_zeros(1, 1, H, W, dtype=window.dtype)
            total[..., y:y + crop, x:x + crop] += window
            count[..., y:y + crop, x:x + crop] += 1
    return total / count


def segment_probs(logits_fn: Logits, images: torch.Tensor, mode: str = "whole", crop: int = 512,
                  stride: int = 341, flip: bool = False, scales: Sequence[float] = (1.0,)) -> torch.Tensor:
    """Class probabilities (B, classes, H, W): softmax averaged over `scales` x (image, flipped image)."""
    if mode not in ("whole", "slide"):
        raise ValueError(f"segment_probs: mode has {mode!r}, expected 'whole' or 'slide'")
    H, W = images.shape[-2:]
    probs = None
    for scale in scales:
        scaled = images if scale == 1.0 else F.interpolate(images, scale_factor=scale, mode="bilinear",
                                                            align_corners=False)
        for flipped in (False, True) if flip else (False,):
            view = scaled.flip(-1) if flipped else scaled
            logits = slide_logits(logits_fn, view, crop, stride) if mode == "slide" else logits_fn(view)
            logits = logits.flip(-1) if flipped else logits
            if logits.shape[-2:] != (H, W):
                logits = F.interpolate(logits, size=(H, W), mode="bilinear", align_corners=False)
            p = logits.float().softmax(1)
            probs = p if probs is None else probs + p
    return probs / (len(scales) * (2 if flip else 1))
