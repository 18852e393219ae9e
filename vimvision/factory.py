"""Building a registered model at a resolution, for the tools that train, validate and time models."""
from __future__ import annotations

import inspect
from typing import Optional

import timm
import torch.nn as nn


def create_model(name: str, size: Optional[int] = None, pretrained: bool = False, **kwargs) -> nn.Module:
    """timm.create_model, built for img_size=`size` when the model's constructor takes one (Vim, DeiT, Swin size their
    position embeddings or windows by it); models without one (VMamba, ConvNeXt) run any size as built.
    An explicit img_size in kwargs wins."""
    model = timm.create_model(name, pretrained=pretrained, **kwargs)
    if size and "img_size" not in kwargs and "img_size" in inspect.signature(type(model).__init__).parameters:
        model = timm.create_model(name, pretrained=pretrained, img_size=size, **kwargs)
    return model
