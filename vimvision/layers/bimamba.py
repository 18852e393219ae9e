"""Vim's bidirectional Mamba mixer ("bimamba v2"), with the official parameter names.

Shared ``in_proj`` (to x and z) and ``out_proj``; each direction has its own causal depthwise conv,
``x_proj``, ``dt_proj``, ``A_log`` and ``D`` (``*_b`` for the backward direction, which reads the
sequence reversed). ``kernel_backend`` picks the kernels (a word of ``vimvision.kernels.BACKENDS``).
Both directions are gated by the same act(z) and averaged before ``out_proj``:
out = out_proj(act(z) * (ssm_f(x) + flip(ssm_b(flip(x)))) / 2).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..kernels import GATE_ACTS, causal_conv1d_fn, selective_scan_fn
from ..kernels.backend import check_backend
from ..validation import check_choice, check_int

# torch.fx leaves: the ops' input checks and backend dispatch run when a traced graph runs
torch.fx.wrap("causal_conv1d_fn")
torch.fx.wrap("selective_scan_fn")


class CausalConv1d(nn.Conv1d):
    """Mamba's depthwise causal conv + SiLU on (batch, channels, L) through the fused kernel; reverse=True
    convolves the sequence backwards. nn.Conv1d's parameters, so the official names and shapes load."""

    def __init__(self, channels: int, kernel_size: int, kernel_backend: str):
        super().__init__(channels, channels, kernel_size, groups=channels, padding=kernel_size - 1)
        self.kernel_backend = kernel_backend

    def forward(self, x: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        return causal_conv1d_fn(x, self.weight.squeeze(1), self.bias, "silu", reverse, backend=self.kernel_backend)


def _weight_times(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """weight (out, in) times each x[b] (in, L): one batched matmul. A transposed or sliced x is read in place
    (BLAS takes its strides), so no activation is copied to change layout."""
    return torch.bmm(weight.expand(x.shape[0], -1, -1), x)


class InProj(nn.Linear):
    """The shared in_proj, tokens (batch, L, dim) in, x and z out, each (batch, E, L) and contiguous: the
    layout of the conv and the scan, with no transpose copied (the official code transposes the output)."""

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, half = hidden.transpose(1, 2), self.out_features // 2
        return _weight_times(self.weight[:half], tokens), _weight_times(self.weight[half:], tokens)


class ChannelLinear(nn.Linear):
    """x_proj on channel-first sequences: (batch, in, L) -> (batch, out, L)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _weight_times(self.weight, x)


class OutProj(nn.Linear):
    """out_proj from channel-first (batch, E, L) back to tokens (batch, L, dim)."""

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return torch.bmm(y.transpose(1, 2), self.weight.t().expand(y.shape[0], -1, -1))


class DeltaProj(nn.Linear):
    """Mamba's dt_proj on channel-first (batch, dt_rank, L): forward applies the weight only; the bias goes to
    the scan as ``delta_bias``, which adds it inside the fused softplus (as mamba-ssm does)."""

    def __init__(self, dt_rank: int, dim: int):
        super().__init__(dt_rank, dim, bias=True)

    def forward(self, dt: torch.Tensor) -> torch.Tensor:
        return _weight_times(self.weight, dt)


class BiMambaMixer(nn.Module):
    """Bidirectional Mamba v2 token mixer on (batch, L, dim) sequences."""

    def __init__(
        self,
        dim: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        gate_act: str = "silu",
        divide_out: bool = True,
        kernel_backend: str = "auto",
    ):
        super().__init__()
        check_int("BiMambaMixer", dim=dim, d_state=d_state, d_conv=d_conv, expand=expand)
        check_choice("BiMambaMixer", "gate_act", gate_act, GATE_ACTS)
        self.d_inner = expand * dim
        self.d_state = d_state
        self.dt_rank = math.ceil(dim / 16) if dt_rank == "auto" else int(dt_rank)
        self.gate_act = gate_act
        self.divide_out = divide_out
        self.kernel_backend = check_backend(kernel_backend, "BiMambaMixer", "kernel_backend")
        E, N, R = self.d_inner, d_state, self.dt_rank
        # parameter order follows the official state_dict: A_log, D, A_b_log, D_b, then modules
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1))
        self.D = nn.Parameter(torch.ones(E))
        self.A_b_log = nn.Parameter(self.A_log.detach().clone())
        self.D_b = nn.Parameter(torch.ones(E))
        self.no_weight_decay_params = ("A_log", "D", "A_b_log", "D_b")  # the model's no_weight_decay() collects them
        self.in_proj = InProj(dim, 2 * E, bias=False)
        self.conv1d = CausalConv1d(E, d_conv, self.kernel_backend)
        self.x_proj = ChannelLinear(E, R + 2 * N, bias=False)
        self.dt_proj = DeltaProj(R, E)
        self.conv1d_b = CausalConv1d(E, d_conv, self.kernel_backend)
        self.x_proj_b = ChannelLinear(E, R + 2 * N, bias=False)
        self.dt_proj_b = DeltaProj(R, E)
        self.out_proj = OutProj(E, dim, bias=False)
        for dt_proj in (self.dt_proj, self.dt_proj_b):
            init_dt_proj(dt_proj, R, dt_min, dt_max, dt_init_floor)

    def _branch(self, x: torch.Tensor, z: torch.Tensor, suffix: str) -> torch.Tensor:
        """One direction on (batch, E, L) x and z in image order; '_b' convolves and scans backwards
        (the official code flips x and z; reversed kernels give the same result without the copies)."""
        reverse = suffix == "_b"
        conv = getattr(self, "conv1d" + suffix)
        x_proj, dt_proj = getattr(self, "x_proj" + suffix), getattr(self, "dt_proj" + suffix)
        A = -torch.exp(getattr(self, "A_log" if not suffix else "A_b_log").float())
        D = getattr(self, "D" + suffix).float()
        x = conv(x, reverse)
        dt, B, C = torch.split(x_proj(x), [self.dt_rank, self.d_state, self.d_state], dim=1)  # (batch, *, L)
        return selective_scan_fn(
            x, dt_proj(dt), A, B, C, D, z=z, delta_bias=dt_proj.bias.float(),
            delta_softplus=True, gate_act=self.gate_act, backend=self.kernel_backend, reverse=reverse,
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(batch, L, dim) -> (batch, L, dim); inside, sequences are channel-first (batch, E, L) throughout."""
        x, z = self.in_proj(hidden)
        y = self._branch(x, z, "") + self._branch(x, z, "_b")
        if self.divide_out:
            y = y / 2
        return self.out_proj(y)


def init_dt_proj(dt_proj: nn.Linear, dt_rank: int, dt_min: float, dt_max: float, floor: float) -> None:
    """Mamba's dt init: weight U(+-dt_rank^-0.5); bias = softplus^-1(dt), dt log-uniform in [dt_min, dt_max]."""
    std = dt_rank**-0.5
    nn.init.uniform_(dt_proj.weight, -std, std)
    dt = torch.exp(torch.rand(dt_proj.out_features) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=floor)
    with torch.no_grad():
        dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
    dt_proj.bias._no_reinit = True
