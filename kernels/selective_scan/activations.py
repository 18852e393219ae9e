"""The z-gate activations the scan supports, with their derivatives for the hand-written backwards."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

GATE_ACTS = ("silu", "gelu", "sigmoid", "identity")
GATE_IDS = {name: i for i, name in enumerate(GATE_ACTS)}  # the Triton kernels' constexpr codes


def gate(z: torch.Tensor, act: str) -> torch.Tensor:
    """act(z); 'gelu' is the exact (erf) GELU, as ``torch.nn.GELU()``."""
    if act == "silu":
        return F.silu(z)
    if act == "gelu":
        return F.gelu(z)
    if act == "sigmoid":
        return torch.sigmoid(z)
    if act == "identity":
        return z
    raise ValueError(f"gate: act has {act!r}, expected one of {GATE_ACTS}")


def gate_grad(z: torch.Tensor, act: str) -> torch.Tensor:
    """d act(z) / dz."""
    if act == "silu":
        s = torch.sigmoid(z)
        return s * (1 + z * (1 - s))
    if act == "gelu":
        cdf = 0.5 * (1 + torch.erf(z * (1 / math.sqrt(2))))
        pdf = torch.exp(-0.5 * z * z) * (1 / math.sqrt(2 * math.pi))
        return cdf + z * pdf
    if act == "sigmoid":
        s = torch.sigmoid(z)
        return s * (1 - s)
    if act == "identity":
        return torch.ones_like(z)
    raise ValueError(f"gate_grad: act has {act!r}, expected one of {GATE_ACTS}")
