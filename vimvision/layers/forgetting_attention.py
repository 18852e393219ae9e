"""Forgetting attention (FoX, Lin et al., ICLR 2025; x-transformers' "data-dependent ALiBi") as a token mixer.

Per head a forget gate f_t = sigmoid(w . x_t + b), kept in log space (logsigmoid, never log(sigmoid));
its cumulative sum c gives the decay bias D_ij = sum of log f over the tokens between i and j, added to
the attention logits before the softmax. Causal FoX uses D_ij = c_i - c_j for j <= i and masks j > i.
Vision is not causal, so this module is bidirectional: a second gate f' (its own projection rows)
decays attention to later tokens, D_ij = c'_j - c'_i for j > i, so each head forgets leftwards and
rightwards independently along the flattened token order (class token included where it sits).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..kernels import forgetting_attention_fn
from ..kernels.backend import check_backend
from ..kernels.forgetting_attention import decay_bias

# a torch.fx leaf: the op's input checks and backend dispatch run when a traced graph runs
torch.fx.wrap("forgetting_attention_fn")


class ForgettingAttention(nn.Module):
    """Bidirectional forgetting attention on (batch, L, dim) sequences.

    gate_bias_init: the gates' initial bias b (x-transformers uses 5: sigmoid(5) = 0.993, i.e. about
    0.0067 nats of decay per token, nearly plain attention at init). gate_scale multiplies the log-gates
    (0 turns the module into plain attention). kernel_backend 'torch' and 'reference' run
    scaled_dot_product_attention with the materialized bias (O(heads * L^2) memory); 'triton' (the
    default on CUDA) the fused kernel, which builds the bias per tile and never stores it.
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True, gate_bias_init: float = 5.0,
                 gate_scale: float = 1.0, attn_drop: float = 0.0, proj_drop: float = 0.0, kernel_backend: str = "auto"):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"ForgettingAttention: dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.gate_scale, self.attn_drop = gate_scale, attn_drop
        self.kernel_backend = check_backend(kernel_backend, "ForgettingAttention", "kernel_backend")
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.forget_gate = nn.Linear(dim, 2 * num_heads)  # forward and backward gates per head
        nn.init.constant_(self.forget_gate.bias, gate_bias_init)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, C = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        log_gates = F.logsigmoid(self.forget_gate(x).float()) * self.gate_scale  # (B, L, 2H)
        log_fwd, log_bwd = log_gates.transpose(1, 2).chunk(2, dim=1)
        if self.attn_drop and self.training:  # attention dropout needs the reference path
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=decay_bias(log_fwd, log_bwd).to(q.dtype),
                                                 dropout_p=self.attn_drop)
        else:
            out = forgetting_attention_fn(q, k, v, log_fwd, log_bwd, backend=self.kernel_backend)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, L, C)))
