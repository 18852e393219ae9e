"""Datasets shipped with vimvision (the embedded default for demos and CI)."""
from .digits import Digits

__all__ = ["Digits"]
