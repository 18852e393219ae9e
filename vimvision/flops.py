"""FLOP counting for our models: fvcore (multiply-adds, the convention VMamba and timm's ``benchmark.py``
publish) and torch's FlopCounterMode (2 per multiply-add) beside it.

fvcore sees our library ops by name under its jit trace. ``register_fvcore_handles`` (run on
``import vimvision``) adds their handles to fvcore's default tables, so any ``FlopCountAnalysis`` or
``ActivationCountAnalysis`` (timm's ``benchmark.py``, a user's own script) counts them, not only ours.
"""
from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass

import torch
import torch.nn as nn

from .kernels import scan_flops

# elementwise ops the official counters ignore (VMamba's analyze/utils.py maps these to None)
_IGNORED = ["aten::silu", "aten::neg", "aten::exp", "aten::flip", "aten::gelu", "aten::softplus", "aten::sigmoid"]
# our ops that the official counts do not see either (CUDA extensions there): depthwise conv, add+norm,
# copies. Registered as ignored so that fvcore does not warn about them.
_UNCOUNTED_OPS = ["vimvision::causal_conv1d", "vimvision::add_norm", "vimvision::cross_scan", "vimvision::cross_merge"]


def _shape(value):
    from fvcore.nn.jit_handles import get_shape

    return get_shape(value) if value.type().kind() == "TensorType" else None


def selective_scan_fvcore_handle(inputs, outputs) -> int:
    """fvcore handle for vimvision::selective_scan: 9·B·L·D·N + B·D·L (D term) + B·D·L (z term)."""
    batch, dim, L = _shape(inputs[0])
    d_state = _shape(inputs[2])[-1]
    return scan_flops(batch, dim, L, d_state, _shape(inputs[5]) is not None, _shape(inputs[6]) is not None)


def forgetting_attention_fvcore_handle(inputs, outputs) -> int:
    """fvcore handle for vimvision::forgetting_attention on (batch·heads, L, head_dim): q·kᵀ and p·v."""
    bh, L, head_dim = _shape(inputs[0])
    return 2 * bh * L * _shape(inputs[1])[1] * head_dim


def register_fvcore_handles() -> bool:
    """Add our ops to fvcore's default flop and activation handles; False where fvcore is not installed."""
    try:  # the modules, not fvcore.nn's functions of the same names
        activation_count = importlib.import_module("fvcore.nn.activation_count")
        flop_count = importlib.import_module("fvcore.nn.flop_count")
        from fvcore.nn.jit_handles import generic_activation_jit
    except ImportError:
        return False
    flop_count._DEFAULT_SUPPORTED_OPS.update(dict.fromkeys(_UNCOUNTED_OPS))  # None: ignored, without a warning
    flop_count._DEFAULT_SUPPORTED_OPS.update({
        "vimvision::selective_scan": selective_scan_fvcore_handle,
        "vimvision::forgetting_attention": forgetting_attention_fvcore_handle,
    })
    activation_count._DEFAULT_SUPPORTED_OPS.update(
        {op: generic_activation_jit() for op in ("vimvision::selective_scan", "vimvision::forgetting_attention")}
    )
    return True


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

    register_fvcore_handles()
    was_training = model.training
    model.eval()
    param = next(model.parameters())
    x = torch.randn(batch, *input_size, device=param.device, dtype=param.dtype)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit is deprecated (FutureWarning) but is what fvcore uses
            from fvcore.nn import FlopCountAnalysis

            analysis = FlopCountAnalysis(model, x)
            analysis.set_op_handle(**{op: None for op in _IGNORED})
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            macs = analysis.total()
            with FlopCounterMode(display=False) as counter:
                model(x)
    finally:
        model.train(was_training)
    return FlopCount(sum(p.numel() for p in model.parameters()), int(macs), int(counter.get_total_flops()))
