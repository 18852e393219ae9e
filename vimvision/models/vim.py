"""Vim (Vision Mamba, Zhu et al., ICML 2024) in timm, faithful to hustvl/Vim and its checkpoints.

Patch embedding, a class token in the middle of the sequence (index M // 2), an absolute position
embedding added after the insertion, blocks of add + RMSNorm (residual stream in fp32) +
bidirectional Mamba v2 mixer, a final add + RMSNorm, and the class-position token to the head.
Parameter names are the official ones, so official state dicts load without renaming.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import (
    DropPath,
    calculate_drop_path_rates,
    lecun_normal_,
    resample_abs_pos_embed,
    to_2tuple,
    trunc_normal_,
)
from timm.models import generate_default_cfgs

from ..kernels.backend import check_backend, resolve_backend
from ..layers.bimamba import BiMambaMixer
from ..layers.norms import AddRmsNorm
from ..validation import check_int, check_rate
from ._builder import (
    Arch,
    FamilyModel,
    adapt_state_dict,
    build_family_model,
    check_global_pool,
    factory_kwargs,
    register_variants,
)

__all__ = ["MixerFactory", "Vim", "bimamba_mixers", "create_vim"]

GLOBAL_POOLS = ("token", "avg", "")

MixerFactory = Callable[[int, int, str], nn.Module]
"""(dim, block index, kernel_backend) -> that block's token mixer on (batch, L, dim) sequences."""


def bimamba_mixers(d_state: int = 16, expand: int = 2, gate_act: str = "silu") -> MixerFactory:
    """The official token mixer in every block: bidirectional Mamba v2."""
    def build(dim: int, index: int, kernel_backend: str) -> nn.Module:
        return BiMambaMixer(dim, d_state=d_state, expand=expand, gate_act=gate_act, kernel_backend=kernel_backend)

    return build


def check_vim_input(x: torch.Tensor, in_chans: int, img_size: Tuple[int, int], patch_size: int, stride: int,
                    dynamic_img_size: bool, kernel_backend: str) -> torch.Tensor:
    """x, after the named errors for a wrong layout, size or kernel backend (a torch.fx leaf: it runs when a traced
    graph runs, instead of stopping the trace)."""
    resolve_backend(kernel_backend, x, "Vim", "kernel_backend")  # a named error before any kernel's
    if x.dim() != 4 or x.shape[1] != in_chans:
        raise ValueError(f"Vim: input has shape {tuple(x.shape)}, expected (batch, {in_chans}, H, W)")
    H, W = x.shape[-2:]
    if not dynamic_img_size and (H, W) != img_size:
        raise ValueError(f"Vim: input size {H}x{W} differs from img_size {img_size}; build the model with "
                         f"img_size=({H}, {W}) (weights are resampled) or dynamic_img_size=True")
    if H < patch_size or W < patch_size:
        raise ValueError(f"Vim: input size {H}x{W} is smaller than the patch size {patch_size}")
    if (H - patch_size) % stride or (W - patch_size) % stride:
        raise ValueError(f"Vim: input size {H}x{W} is not covered by the patch grid (patch_size {patch_size}, "
                         f"stride {stride}): expected each side minus the patch divisible by the stride; the last "
                         "rows or columns would be dropped")
    return x


torch.fx.wrap("check_vim_input")


class StridedPatchEmbed(nn.Module):
    """Conv patch embedding whose stride may be smaller than the patch (Vim's stride-8 fine-tunes)."""

    def __init__(self, img_size: Union[int, Tuple[int, int]], patch_size: int, stride: int, in_chans: int,
                 embed_dim: int, dynamic_img_size: bool = False):
        super().__init__()
        img_size = to_2tuple(img_size)
        if any(s < patch_size or (s - patch_size) % stride for s in img_size):
            raise ValueError(f"Vim: img_size {img_size} does not fit patch_size {patch_size} with stride {stride}: "
                             f"expected sides >= the patch with (side - patch_size) divisible by stride")
        self.img_size, self.patch_size, self.stride = tuple(img_size), patch_size, stride
        self.dynamic_img_size = dynamic_img_size
        self.grid_size = self.grid_for(*img_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride)

    def grid_for(self, height: int, width: int) -> Tuple[int, int]:
        return (height - self.patch_size) // self.stride + 1, (width - self.patch_size) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, C, H, W) -> (batch, patches, dim); the input is checked by the model (check_vim_input)."""
        return self.proj(x).flatten(2).transpose(1, 2)


class VimBlock(nn.Module):
    """residual += drop_path(hidden); hidden = mixer(RmsNorm(residual)); the residual kept in fp32."""

    def __init__(self, dim: int, mixer: nn.Module, drop_path: float, norm_eps: float, kernel_backend: str = "auto"):
        super().__init__()
        self.mixer = mixer
        self.norm = AddRmsNorm(dim, norm_eps, kernel_backend)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, state: Tuple[torch.Tensor, Optional[torch.Tensor]]) -> Tuple[torch.Tensor, torch.Tensor]:
        """(hidden, residual) -> the next pair; residual is None before the first block."""
        hidden, residual = state
        incoming = hidden if residual is None else self.drop_path(hidden)
        normed, residual = self.norm(incoming, residual)
        return self.mixer(normed), residual


class Vim(FamilyModel):
    """Vision Mamba with the official architecture and parameter names.

    global_pool: 'token' takes the class token (the official head); 'avg' averages all tokens;
    '' returns the token sequence. kernel_backend: 'auto' (Triton on CUDA, PyTorch elsewhere),
    'triton', 'torch' or 'reference', for the mixers' and the add+norm kernels. mixer_layer: builds
    each block's token mixer (see MixerFactory; vim_fox.py injects forgetting attention); by default
    the official bidirectional Mamba with d_state, expand and gate_act. The official
    ``final_pool_type='mean'`` flag has no effect in the released models (they always take the class
    token), so it has no equivalent here.
    """

    INTERMEDIATE_FORMATS = ("NCHW", "NLC")
    OFFICIAL_NO_WEIGHT_DECAY = ("pos_embed", "cls_token")  # of the official set, the ones this model has

    @factory_kwargs
    def __init__(
        self,
        img_size: Union[int, Tuple[int, int]] = 224,
        patch_size: int = 16,
        stride: Optional[int] = None,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        embed_dim: int = 192,
        depth: int = 24,
        d_state: int = 16,
        expand: int = 2,
        gate_act: str = "silu",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_eps: float = 1e-5,
        rescale_prenorm_residual: bool = True,
        dynamic_img_size: bool = False,
        kernel_backend: str = "auto",
        mixer_layer: Optional[MixerFactory] = None,
    ):
        super().__init__()
        stride = patch_size if stride is None else stride
        check_int("Vim", patch_size=patch_size, stride=stride, in_chans=in_chans, embed_dim=embed_dim, depth=depth,
                  d_state=d_state, expand=expand)
        check_int("Vim", minimum=0, num_classes=num_classes)
        check_rate("Vim", drop_rate=drop_rate, drop_path_rate=drop_path_rate)
        self.kernel_backend = check_backend(kernel_backend, "Vim", "kernel_backend")
        self.num_classes, self.in_chans = num_classes, in_chans
        self.global_pool = check_global_pool("Vim", global_pool, GLOBAL_POOLS)
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = 1
        self.grad_checkpointing = False
        # parameter order follows the official state_dict
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.patch_embed = StridedPatchEmbed(img_size, patch_size, stride, in_chans, embed_dim, dynamic_img_size)
        num_patches = self.patch_embed.grid_size[0] * self.patch_embed.grid_size[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.no_weight_decay_params = ("cls_token", "pos_embed")
        self.pos_drop = nn.Dropout(drop_rate)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        rates = calculate_drop_path_rates(drop_path_rate, depth)
        mixer_layer = mixer_layer or bimamba_mixers(d_state, expand, gate_act)
        # as the official code: block i drops the previous mixer's output with rate rates[i - 1]
        self.layers = nn.ModuleList(
            VimBlock(embed_dim, mixer_layer(embed_dim, i, kernel_backend), ([0.0] + rates)[i], norm_eps, kernel_backend)
            for i in range(depth)
        )
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.norm_f = AddRmsNorm(embed_dim, norm_eps, kernel_backend)
        stride_ = self.patch_embed.stride
        self.feature_info = [dict(module=f"layers.{i}", num_chs=embed_dim, reduction=stride_) for i in range(depth)]
        self._init_weights(depth, rescale_prenorm_residual)

    def _init_weights(self, depth: int, rescale_prenorm_residual: bool) -> None:
        """The official init: ViT-style stem/head/embeddings, then the GPT-2 pass over all modules."""
        lecun_normal_(self.patch_embed.proj.weight)
        nn.init.zeros_(self.patch_embed.proj.bias)
        if isinstance(self.head, nn.Linear):
            trunc_normal_(self.head.weight, std=0.02)
        trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        for module in self.modules():
            reinit = isinstance(module, nn.Linear) and module.bias is not None
            if reinit and not getattr(module.bias, "_no_reinit", False):
                nn.init.zeros_(module.bias)
        if rescale_prenorm_residual:  # out_proj: kaiming-uniform / sqrt(n_layer), one residual per layer
            for layer in self.layers:
                if not hasattr(layer.mixer, "out_proj"):  # forgetting-attention blocks keep timm's init
                    continue
                weight = layer.mixer.out_proj.weight
                nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
                with torch.no_grad():
                    weight /= math.sqrt(depth)

    @property
    def cls_index(self) -> int:
        return self.patch_embed.grid_size[0] * self.patch_embed.grid_size[1] // 2

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(stem=r"^cls_token|^pos_embed|^patch_embed",
                    blocks=[(r"^layers\.(\d+)", None), (r"^norm_f", (99999,))])

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        if global_pool is not None:
            self.global_pool = check_global_pool("Vim", global_pool, GLOBAL_POOLS)
        self.num_classes = num_classes
        self.head = self.new_head(self.embed_dim, num_classes)

    def _pos_embed(self, x: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """Insert the class token at M // 2 and add the position embedding (resampled if the grid differs)."""
        pos_embed = self.pos_embed
        if grid != self.patch_embed.grid_size:
            pos_embed = resample_vim_pos_embed(pos_embed, grid, self.patch_embed.grid_size)
        mid = grid[0] * grid[1] // 2
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([x[:, :mid], cls, x[:, mid:]], dim=1)
        return self.pos_drop(x + pos_embed)

    def _embed(self, x: torch.Tensor):
        embed = self.patch_embed
        x = check_vim_input(x, embed.proj.in_channels, embed.img_size, embed.patch_size, embed.stride,
                            embed.dynamic_img_size, self.kernel_backend)
        # a fixed-size model's grid is a constant, so that torch.fx can trace it
        grid = embed.grid_for(x.shape[-2], x.shape[-1]) if embed.dynamic_img_size else embed.grid_size
        return self._pos_embed(embed(x), grid), grid

    def _final_norm(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        if isinstance(self.norm_f, nn.Identity):  # pruned by prune_intermediate_layers(prune_norm=True)
            return residual + self.drop_path(hidden)
        return self.norm_f(self.drop_path(hidden), residual)[0]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        hidden, _ = self._embed(x)
        return self._final_norm(*self.run_blocks(self.layers, (hidden, None)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "token":
            x = x[:, (x.shape[1] - 1) // 2]  # the middle class token: index M // 2 of M + 1 tokens
        elif self.global_pool == "avg":
            x = x.mean(dim=1)
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def walk_intermediates(self, x: torch.Tensor, stages: Sequence[nn.Module], take_indices: List[int], norm: bool,
                           output_fmt: str) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Token streams after the chosen blocks (residual + mixer output), class token removed: 'NCHW'
        (batch, dim, H, W) maps or 'NLC' (batch, tokens, dim) sequences."""
        hidden, grid = self._embed(x)
        mid = grid[0] * grid[1] // 2
        residual, intermediates = None, []
        for i, layer in enumerate(stages):
            hidden, residual = self.run_blocks([layer], (hidden, residual))
            if i in take_indices:
                feat = self._final_norm(hidden, residual) if norm else residual + hidden
                feat = torch.cat([feat[:, :mid], feat[:, mid + 1 :]], dim=1).to(x.dtype)
                if output_fmt == "NCHW":
                    feat = feat.transpose(1, 2).reshape(feat.shape[0], -1, *grid)
                intermediates.append(feat)
        return self._final_norm(hidden, residual), intermediates

    def prune_end(self, prune_norm: bool) -> None:
        if prune_norm:
            self.norm_f = nn.Identity()

    def filter_checkpoint(self, state_dict: dict) -> dict:
        return checkpoint_filter_fn(state_dict, self)


def resample_vim_pos_embed(pos_embed: torch.Tensor, new_grid: Tuple[int, int],
                           old_grid: Tuple[int, int]) -> torch.Tensor:
    """Resample a mid-class-token position embedding: the class row sits at M // 2, not at row 0."""
    mid_old = old_grid[0] * old_grid[1] // 2
    cls_row = pos_embed[:, mid_old : mid_old + 1]
    grid_rows = torch.cat([pos_embed[:, :mid_old], pos_embed[:, mid_old + 1 :]], dim=1)
    grid_rows = resample_abs_pos_embed(grid_rows, list(new_grid), list(old_grid), num_prefix_tokens=0)
    mid_new = new_grid[0] * new_grid[1] // 2
    return torch.cat([grid_rows[:, :mid_new], cls_row, grid_rows[:, mid_new:]], dim=1)


def checkpoint_filter_fn(state_dict: dict, model: Vim) -> dict:
    """Official (hustvl/Vim) or vimvision state dict -> this model's: unwrap, strip DDP prefixes,
    resample the position embedding to the model's grid, drop a head the model does not have or
    whose class count differs."""

    def resample_pos_embed(key: str, value: torch.Tensor) -> Tuple[str, torch.Tensor]:
        if key == "pos_embed" and value.shape != model.pos_embed.shape:
            old = int(math.isqrt(value.shape[1] - 1))
            if old * old != value.shape[1] - 1:
                raise ValueError(f"Vim checkpoint: pos_embed has {value.shape[1]} rows, expected a square grid + 1")
            value = resample_vim_pos_embed(value, model.patch_embed.grid_size, (old, old))
        return key, value

    return adapt_state_dict(state_dict, model, "head", resample_pos_embed)


def create_vim(variant: str, pretrained: bool = False, **kwargs) -> Vim:
    """Build a registered Vim variant (timm's _create_vim; vim_fox.py builds its variants with it too)."""
    return build_family_model(Vim, variant, pretrained, checkpoint_filter_fn, default_out_indices=(5, 11, 17, 23),
                              **kwargs)


def _cfg(hf_hub_id: str, filename: str, **kwargs) -> dict:
    return {
        "hf_hub_id": hf_hub_id, "hf_hub_filename": filename, "custom_load": "hf", "num_classes": 1000,
        "input_size": (3, 224, 224), "pool_size": None, "crop_pct": 0.875, "interpolation": "bicubic",
        "fixed_input_size": True, "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD,
        "first_conv": "patch_embed.proj", "classifier": "head", "license": "apache-2.0",
        "paper_ids": "arXiv:2401.09417", "origin_url": "https://github.com/hustvl/Vim", **kwargs,
    }


OFFICIAL_NAMES = {
    "vim_tiny": "vim_tiny_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2",
    "vim_tiny_stride8": "vim_tiny_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2",
    "vim_small": "vim_small_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2",
    "vim_small_stride8": "vim_small_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2",
    "vim_base": "vim_base_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_middle_cls_token_div2",
}
_FILES = {
    "vim_tiny": ("hustvl/Vim-tiny-midclstok", "vim_t_midclstok_76p1acc.pth"),
    "vim_tiny_stride8": ("hustvl/Vim-tiny-midclstok", "vim_t_midclstok_ft_78p3acc.pth"),
    "vim_small": ("hustvl/Vim-small-midclstok", "vim_s_midclstok_80p5acc.pth"),
    "vim_small_stride8": ("hustvl/Vim-small-midclstok", "vim_s_midclstok_ft_81p6acc.pth"),
    "vim_base": ("hustvl/Vim-base-midclstok", "vim_b_midclstok_81p9acc.pth"),
}
ARCHS = {
    "vim_tiny": Arch(dict(embed_dim=192), "Vim-Ti: dim 192, 24 blocks, patch 16 (7.15 M params; 76.1 % top-1)."),
    "vim_tiny_stride8": Arch(dict(embed_dim=192, stride=8), "Vim-Ti fine-tuned at stride 8 (729 patches; 78.3 %)."),
    "vim_small": Arch(dict(embed_dim=384), "Vim-S: dim 384 (25.8 M params; 80.5 % top-1)."),
    "vim_small_stride8": Arch(dict(embed_dim=384, stride=8), "Vim-S fine-tuned at stride 8 (81.6 % top-1)."),
    "vim_base": Arch(dict(embed_dim=768), "Vim-B: dim 768 (97.6 M params; 81.9 % top-1)."),
}  # top-1: the official numbers

# 'in1k' loads the weights official evaluation used ('model'); 'in1k_ema' the EMA copy in the same file
default_cfgs = generate_default_cfgs({
    f"{name}.{tag}": _cfg(*_FILES[short])
    for short in ARCHS
    for name in (short, OFFICIAL_NAMES[short])
    for tag in ("in1k", "in1k_ema")
})


register_variants(__name__, create_vim, ARCHS, aliases={official: short for short, official in OFFICIAL_NAMES.items()})
