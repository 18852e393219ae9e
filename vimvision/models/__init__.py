"""Model families registered in timm on import: one module per family."""
from .vim import Vim
from .vmamba import VMamba

__all__ = ["VMamba", "Vim"]
