"""Vim-shaped backbones with forgetting attention (FoX) as the token mixer, and Mamba/attention hybrids.

Same stem, middle class token, fp32-residual add + RMSNorm blocks and head as Vim: the Vim class with
fox_mixers injected as its mixer_layer. No released weights: train them with configs/vim_fox_*.yaml.
"""
from __future__ import annotations

import torch.nn as nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import generate_default_cfgs

from ..layers.bimamba import BiMambaMixer
from ..layers.forgetting_attention import ForgettingAttention
from ._builder import Arch, register_variants
from .vim import MixerFactory, Vim, create_vim

__all__ = ["create_fox", "fox_mixers"]

# what create_fox takes out of the model kwargs to build the mixers; the rest goes to Vim
MIXER_ARGS = ("num_heads", "attn_every", "gate_bias_init", "d_state", "expand", "gate_act")


def fox_mixers(num_heads: int, attn_every: int = 1, gate_bias_init: float = 5.0, **mamba_kwargs) -> MixerFactory:
    """Forgetting attention with num_heads heads in every attn_every-th block (every block when 1) and
    bidirectional Mamba (BiMambaMixer with mamba_kwargs) elsewhere."""
    def build(dim: int, index: int, kernel_backend: str) -> nn.Module:
        if (index + 1) % attn_every == 0:
            return ForgettingAttention(dim, num_heads=num_heads, gate_bias_init=gate_bias_init,
                                       kernel_backend=kernel_backend)
        return BiMambaMixer(dim, kernel_backend=kernel_backend, **mamba_kwargs)

    return build


def create_fox(variant: str, pretrained: bool = False, **kwargs) -> Vim:
    mixer_args = {key: kwargs.pop(key) for key in MIXER_ARGS if key in kwargs}
    return create_vim(variant, pretrained, mixer_layer=fox_mixers(**mixer_args), **kwargs)


def _cfg(**kwargs) -> dict:
    return {"num_classes": 1000, "input_size": (3, 224, 224), "fixed_input_size": True, "crop_pct": 0.875,
            "interpolation": "bicubic", "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD,
            "first_conv": "patch_embed.proj", "classifier": "head", "license": "apache-2.0", **kwargs}


ARCHS = {
    "vim_fox_tiny": Arch(dict(embed_dim=192, num_heads=3), "Vim-Ti layout, forgetting attention in all blocks."),
    "vim_fox_small": Arch(dict(embed_dim=384, num_heads=6), "Vim-S layout, forgetting attention in all blocks."),
    "vim_hybrid_tiny": Arch(dict(embed_dim=192, num_heads=3, attn_every=4),
                            "Vim-Ti, forgetting attention in every fourth block, bidirectional Mamba elsewhere."),
    "vim_hybrid_small": Arch(dict(embed_dim=384, num_heads=6, attn_every=4),
                             "Vim-S, forgetting attention in every fourth block, bidirectional Mamba elsewhere."),
}

default_cfgs = generate_default_cfgs({f"{name}.untrained": _cfg() for name in ARCHS})

register_variants(__name__, create_fox, ARCHS)
