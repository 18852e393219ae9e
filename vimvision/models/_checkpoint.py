"""Reading official checkpoint files safely and loading them strictly, with errors that name keys."""
from __future__ import annotations

import argparse
import pickle
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
    try:  # truncated, malformed or foreign files: say which file and why
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # name the refused object; torch's own text suggests an unsafe retry
        lines = [line for line in str(e).splitlines() if "GLOBAL" in line] or [type(e).__name__]
        raise ValueError(f"cannot read checkpoint {str(path)!r}: it holds objects other than tensors and plain "
                         f"containers, refused without running them ({lines[0].strip()})") from None
    except Exception as e:
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {type(e).__name__}: {e}") from e


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


def format_keys(keys, limit: int = 12) -> str:
    """Up to `limit` names in natural order (for error messages), then how many more."""
    keys = sorted(keys, key=natural_key)  # 'layers.2.x' before 'layers.10.x'
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _kind(t: torch.Tensor) -> str:
    if t.is_complex():
        return "complex"
    return "float" if t.is_floating_point() else "bool" if t.dtype == torch.bool else "integer"


def load_strict(model: nn.Module, state_dict: dict, source: str = "checkpoint") -> None:
    """load_state_dict, but every missing, unexpected or mis-shaped key, every value that is not a tensor
    of the model's kind (a float weight from an integer, boolean or complex tensor would load cast) and
    every non-finite weight is named in one ValueError."""
    own = model.state_dict()
    missing = own.keys() - state_dict.keys()
    unexpected = state_dict.keys() - own.keys()
    common = own.keys() & state_dict.keys()
    not_tensors = [f"{k} ({type(state_dict[k]).__name__})" for k in common
                   if not isinstance(state_dict[k], torch.Tensor)]
    common = {k for k in common if isinstance(state_dict[k], torch.Tensor)}
    mismatched = [
        f"{k} {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in common
        if tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    wrong_kind = [f"{k} {state_dict[k].dtype} vs model {own[k].dtype}" for k in common
                  if _kind(state_dict[k]) != _kind(own[k])]
    non_finite = [k for k in common if _kind(state_dict[k]) in ("float", "complex") and
                  not bool(torch.isfinite(state_dict[k]).all())]
    problems = [f"{what} ({len(keys)}): {format_keys(keys)}" for what, keys in (
        ("values that are not tensors", not_tensors), ("wrong dtypes", wrong_kind),
        ("NaN or infinite values", non_finite), ("missing keys", missing), ("unexpected keys", unexpected),
        ("shape mismatches", mismatched)) if keys]
    if problems:
        raise ValueError(f"{source} does not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(state_dict, strict=True)


def custom_load_overlay(kwargs: dict) -> dict:
    """Route weight files through the model's load_pretrained (timm's custom_load) from every source: a
    local file, a URL and, with the value 'hf' that timm's hub branch asks for, the Hugging Face hub."""
    overlay = dict(kwargs.pop("pretrained_cfg_overlay", None) or {})
    overlay.setdefault("custom_load", "hf")
    return overlay
