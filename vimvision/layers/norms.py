"""The residual add and RMSNorm of a pre-norm block as one module over the fused add+norm kernel."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from timm.layers import RmsNorm

from ..kernels import add_norm_fn

torch.fx.wrap("add_norm_fn")  # a torch.fx leaf: its checks and backend dispatch run when a traced graph runs


class AddRmsNorm(RmsNorm):
    """timm's RmsNorm (same parameter) applied to x + residual: returns (norm(x + residual), x + residual).

    One module call instead of a kernel on ``norm.weight`` so that hook-based tools (fvcore's
    per-module table, forward hooks, thop) see the norm. The residual is kept in fp32, as the official.
    """

    def __init__(self, dim: int, eps: float, kernel_backend: str = "auto"):
        super().__init__(dim, eps=eps)
        self.kernel_backend = kernel_backend

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        return add_norm_fn(x, residual, self.weight, None, self.eps, backend=self.kernel_backend)
