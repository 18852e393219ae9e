"""Model families registered in timm on import: one module per family."""
from .vim import Vim

__all__ = ["Vim"]
