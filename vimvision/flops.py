"""FLOP counting for our models: fvcore (multiply-adds, the convention VMamba publishes) with a
handle for the selective-scan op, and torch's FlopCounterMode (2 per multiply-add) beside it."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn as nn

from .kernels import scan_flops

# elementwise ops the official counters ignore (VMamba's analyze/utils.py maps these to None)
_IGNORED = ["aten::silu", "aten::neg", "aten::exp", "aten::flip", "aten::gelu", "aten::softplus", "aten::sigmoid"]


def _shape(value):
    from fvcore.nn.jit_handles import get_shape

    return get_shape(value) if value.type().kind() == "TensorType" else None


def selective_scan_fvcore_handle(inputs, outputs) -> int:
    """fvcore handle for vimvision::selective_scan: 9·B·L·D·N + B·D·L (D term) + B·D·L (z term)."""
    batch, dim, L = _shape(inputs[0])
    d_state = _shape(inputs[2])[-1]
    return scan_flops(batch, dim, L, d_state, _shape(inputs[5]) is not None, _shape(inputs[6]) is not None)


@dataclass
class FlopCount:
    params: int
    macs: int  # fvcore: one per multiply-add (VMamba's and timm's "GMACs" convention)
    flops: int  # torch.utils.flop_counter: two per multiply-add

    def __str__(self) -> str:
        return (f"params {self.params / 1e6:.2f} M, {self.macs / 1e9:.3f} GMACs (fvcore; published 'FLOPs'), "
                f"{self.flops / 1e9:.3f} GFLOPs (torch counter, 2 per multiply-add)")


def count_flops(model: nn.Module, input_size: tuple = (3, 224, 224), batch: int = 1) -> FlopCount:
    """Count one forward of `model` on a (batch, *input_size) input, in eval mode, on the model's device."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    param = next(model.parameters())
    x = torch.randn(batch, *input_size, device=param.device, dtype=param.dtype)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit is deprecated (FutureWarning) but is what fvcore uses
            from fvcore.nn import FlopCountAnalysis

            analysis = FlopCountAnalysis(model, x)
            analysis.set_op_handle("vimvision::selective_scan", selective_scan_fvcore_handle)
            analysis.set_op_handle(**{op: None for op in _IGNORED})
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            macs = analysis.total()
            with FlopCounterMode(display=False) as counter:
                model(x)
    finally:
        model.train(was_training)
    return FlopCount(sum(p.numel() for p in model.parameters()), int(macs), int(counter.get_total_flops()))
