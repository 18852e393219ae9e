"""Layer-wise learning-rate decay for a plain (Vim) backbone in mmdet/mmseg, registered in mmengine's root
OPTIM_WRAPPER_CONSTRUCTORS so a config names it as ``constructor='LayerDecayOptimWrapperConstructor'``.

mmseg's and mmdet's own layer-decay constructors accept only backbones whose class name says BEiT, MAE or
ConvNeXt. This is the rule the official Vim detector applies (``get_vim_lr_decay_rate``): with D blocks,
block i learns at ``rate ** (D - i)``, the patch and position embeddings (and class token) at
``rate ** (D + 1)``, necks and heads at the base rate. No weight decay for 1-D tensors, biases and the
backbone's ``no_weight_decay()`` names (the embeddings and mamba's A_log / A_b_log / D / D_b), or, given
``no_decay_names``, for exactly those backbone parameters (the official detector's ``("pos_embed",)``).
"""
from __future__ import annotations

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

_EMBEDDINGS = ("backbone.patch_embed.", "backbone.pos_embed", "backbone.cls_token")


def layer_id(name: str, num_layers: int) -> int:
    """0 for the embeddings, i + 1 for backbone block i, num_layers + 1 for everything after the blocks."""
    if name.startswith(_EMBEDDINGS):
        return 0
    if name.startswith("backbone.layers."):
        return int(name.split(".")[2]) + 1
    return num_layers + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """paramwise_cfg: ``num_layers`` (the backbone's depth), ``layer_decay_rate`` and optionally
    ``no_decay_names`` (backbone parameter names); one group per parameter."""

    def add_params(self, params: list, module: nn.Module, **kwargs) -> None:
        for key in ("num_layers", "layer_decay_rate"):
            if key not in self.paramwise_cfg:
                raise ValueError(f"LayerDecayOptimWrapperConstructor: paramwise_cfg {dict(self.paramwise_cfg)} "
                                 f"lacks {key!r}")
        num_layers, rate = self.paramwise_cfg["num_layers"], self.paramwise_cfg["layer_decay_rate"]
        if not isinstance(getattr(module, "backbone", None), nn.Module):
            raise ValueError(f"LayerDecayOptimWrapperConstructor: {type(module).__name__} has no backbone module; "
                             "expected an mmdet/mmseg model (detector or EncoderDecoder)")
        depth = len(getattr(module.backbone, "layers", ()))
        if depth > num_layers:
            raise ValueError(f"LayerDecayOptimWrapperConstructor: paramwise_cfg num_layers has {num_layers}, "
                             f"expected at least the backbone's {depth} blocks")
        only = self.paramwise_cfg.get("no_decay_names")
        if only is not None:
            unknown = sorted(set(only) - {n for n, _ in module.backbone.named_parameters()})
            if unknown:
                raise ValueError(f"LayerDecayOptimWrapperConstructor: paramwise_cfg no_decay_names has {unknown}, "
                                 "expected parameter names of the backbone (e.g. 'pos_embed')")
        names = getattr(module.backbone, "no_weight_decay", set)() if only is None else only
        no_decay = {f"backbone.{n}" for n in names}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            decay = name not in no_decay and (only is not None or (param.ndim > 1 and not name.endswith(".bias")))
            params.append(dict(params=[param], lr=self.base_lr * rate ** (num_layers + 1 - layer_id(name, num_layers)),
                               weight_decay=self.base_wd if decay else 0.0))
