"""Reading official checkpoint files safely and loading them strictly, with errors that name keys."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn as nn
from timm.utils import natural_key

# exactly what official training files pickle besides tensors and containers (Vim's main.py args)
SAFE_GLOBALS = [argparse.Namespace]


def read_checkpoint(path: str | Path) -> dict:
    """Load a .pth/.pt (weights_only, with SAFE_GLOBALS allowed) or .safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {str(path)!r} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated or foreign files: say which file and why
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {e}") from e


def pick_state_dict(checkpoint: dict, use_ema: bool = False) -> dict:
    """The weights inside an official file: 'model' (what official evaluation uses) or, if asked, the EMA copy."""
    if use_ema:
        for key in ("model_ema", "state_dict_ema"):
            if isinstance(checkpoint.get(key), dict):
                return checkpoint[key]
        raise KeyError(f"EMA weights requested but the checkpoint has none (top-level keys: {sorted(checkpoint)})")
    for key in ("model", "state_dict"):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def _names(keys, limit: int = 12) -> str:
    keys = sorted(keys, key=natural_key)  # 'layers.2.x' before 'layers.10.x'
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_strict(model: nn.Module, state_dict: dict, source: str = "checkpoint") -> None:
    """load_state_dict, but every missing, unexpected or mis-shaped key is named in one ValueError."""
    own = model.state_dict()
    missing = own.keys() - state_dict.keys()
    unexpected = state_dict.keys() - own.keys()
    mismatched = [
        f"{k} {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own.keys() & state_dict.keys()
        if tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {_names(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches ({len(mismatched)}): {_names(mismatched)}")
    if problems:
        raise ValueError(f"{source} does not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(state_dict, strict=True)


def custom_load_overlay(kwargs: dict) -> dict:
    """Route weight files through the model's load_pretrained (timm's custom_load)."""
    overlay = dict(kwargs.pop("pretrained_cfg_overlay", None) or {})
    overlay.setdefault("custom_load", True)
    return overlay
