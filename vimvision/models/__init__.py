"""Model families registered in timm on import: one module per family, their shared plumbing in _builder.py
and the checkpoint readers in _checkpoint.py (public here, as timm re-exports its machinery from timm.models)."""
from . import vim_fox  # noqa: F401  (registers the forgetting-attention variants)
from ._builder import FamilyModel
from ._checkpoint import SAFE_GLOBALS, format_keys, load_strict, pick_state_dict, read_checkpoint
from .vim import Vim
from .vmamba import VMamba

__all__ = [
    "SAFE_GLOBALS", "FamilyModel", "VMamba", "Vim", "format_keys", "load_strict", "pick_state_dict", "read_checkpoint",
]
