"""Vim-shaped backbones with forgetting attention (FoX) as the token mixer, and Mamba/attention hybrids.

Same stem, middle class token, fp32-residual add + RMSNorm blocks and head as Vim (the Vim class with
``mixer='fox'`` or ``mixer='hybrid'``); no released weights: train them with configs/vim_fox_*.yaml.
"""
from __future__ import annotations

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import generate_default_cfgs, register_model

from .vim import Vim, _create_vim


def _cfg(**kwargs) -> dict:
    return {"num_classes": 1000, "input_size": (3, 224, 224), "crop_pct": 0.875, "interpolation": "bicubic",
            "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD, "first_conv": "patch_embed.proj",
            "classifier": "head", "license": "apache-2.0", **kwargs}


default_cfgs = generate_default_cfgs({
    "vim_fox_tiny.untrained": _cfg(), "vim_fox_small.untrained": _cfg(),
    "vim_hybrid_tiny.untrained": _cfg(), "vim_hybrid_small.untrained": _cfg(),
})


@register_model
def vim_fox_tiny(pretrained: bool = False, **kwargs) -> Vim:
    """Vim-Ti layout, forgetting attention (3 heads) in all 24 blocks."""
    return _create_vim("vim_fox_tiny", pretrained, **dict(dict(embed_dim=192, mixer="fox", num_heads=3), **kwargs))


@register_model
def vim_fox_small(pretrained: bool = False, **kwargs) -> Vim:
    """Vim-S layout, forgetting attention (6 heads) in all 24 blocks."""
    return _create_vim("vim_fox_small", pretrained, **dict(dict(embed_dim=384, mixer="fox", num_heads=6), **kwargs))


@register_model
def vim_hybrid_tiny(pretrained: bool = False, **kwargs) -> Vim:
    """Vim-Ti with every fourth block forgetting attention (3 heads), bidirectional Mamba elsewhere."""
    return _create_vim("vim_hybrid_tiny", pretrained,
                       **dict(dict(embed_dim=192, mixer="hybrid", attn_every=4, num_heads=3), **kwargs))


@register_model
def vim_hybrid_small(pretrained: bool = False, **kwargs) -> Vim:
    """Vim-S with every fourth block forgetting attention (6 heads), bidirectional Mamba elsewhere."""
    return _create_vim("vim_hybrid_small", pretrained,
                       **dict(dict(embed_dim=384, mixer="hybrid", attn_every=4, num_heads=6), **kwargs))
