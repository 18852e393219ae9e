"""VMamba's cross-scan (4 routes over an H x W map, or the first 2) and cross-merge, Triton with PyTorch references."""
from .interface import cross_merge_fn, cross_scan_fn
from .naive import cross_merge_ref, cross_scan_ref

__all__ = ["cross_merge_fn", "cross_merge_ref", "cross_scan_fn", "cross_scan_ref"]
