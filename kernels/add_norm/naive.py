"""Reference residual add + RMSNorm / LayerNorm with the residual kept in fp32 (Mamba's fused add-norm)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def add_norm_ref(x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, bias: torch.Tensor | None,
                 eps: float, is_rms: bool = True, residual_in_fp32: bool = True):
    """Returns (norm(x + residual) in x's dtype, the new residual x + residual).

    The sum and the normalization run in fp32, as mamba-ssm's ``rms_norm_ref(upcast=True)``."""
    total = x.float() if residual is None else x.float() + residual.float()
    if is_rms:
        out = total * torch.rsqrt(total.square().mean(-1, keepdim=True) + eps) * weight.float()
        if bias is not None:
            out = out + bias.float()
    else:
        out = F.layer_norm(total, total.shape[-1:], weight.float(), None if bias is None else bias.float(), eps)
    new_residual = total if residual_in_fp32 else total.to(x.dtype)
    return out.to(x.dtype), new_residual
