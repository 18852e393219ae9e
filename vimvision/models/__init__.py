"""Model families registered in timm on import: one module per family."""
from . import vim_fox  # noqa: F401  (registers the forgetting-attention variants)
from .vim import Vim
from .vmamba import VMamba

__all__ = ["VMamba", "Vim"]
