"""Classification metrics over a loader, summed over all processes of a distributed run."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
from timm.utils import accuracy


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, amp_dtype: Optional[torch.dtype] = None,
             channels_last: bool = False, progress=None) -> dict:
    """Top-1 / top-5 accuracy (in %) and mean cross-entropy over a loader, summed over all processes
    when distributed (each rank scores its part of a distributed loader; every rank gets the totals)."""
    model.eval()
    totals = torch.zeros(4, dtype=torch.float64, device=device)  # loss sum, top-1 hits, top-5 hits, count
    for images, targets in (progress(loader) if progress else loader):
        images, targets = images.to(device), targets.to(device)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            output = model(images).float()
        acc1, acc5 = accuracy(output, targets, topk=(1, min(5, output.shape[-1])))
        n = images.shape[0]
        totals += torch.stack([nn.functional.cross_entropy(output, targets) * n, acc1 * n / 100, acc5 * n / 100,
                               torch.tensor(float(n), device=device)]).to(totals)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(totals)
    loss, top1, top5, count = totals.tolist()
    count = max(count, 1.0)
    return {"loss": loss / count, "top1": 100 * top1 / count, "top5": 100 * top5 / count}
