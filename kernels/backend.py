"""The backend word that every op and layer takes, resolved here so that it means the same everywhere.

- ``reference``: the plain PyTorch ground truth that the tests compare the other backends against.
- ``torch``: the fast PyTorch path. Where an op has no faster PyTorch form than its reference
  (add+norm, cross-scan/merge, forgetting attention's SDPA), ``torch`` runs the reference itself.
- ``triton``: the Triton kernels; CUDA tensors, or CPU tensors under ``TRITON_INTERPRET=1``.
- ``auto``: ``triton`` on CUDA tensors when Triton is installed, ``torch`` otherwise.

Triton is optional: every Triton kernel module is imported on the first ``triton`` call, so the package
and the PyTorch backends work where Triton is not installed (macOS, Windows, minimal CPU installs).
"""
from __future__ import annotations

import functools
import os

import torch


@functools.cache
def triton_available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True

BACKENDS = ("auto", "triton", "torch", "reference")


def check_backend(backend: str, op_name: str, arg: str = "backend") -> str:
    """Validate the word before any tensor exists (layers check theirs when they are built)."""
    if backend not in BACKENDS:
        raise ValueError(f"{op_name}: {arg} has {backend!r}, expected one of {BACKENDS}")
    return backend


def resolve_backend(backend: str, tensor: torch.Tensor, op_name: str, arg: str = "backend") -> str:
    """The backend that runs on ``tensor``'s device: ``auto`` becomes ``triton`` or ``torch``."""
    check_backend(backend, op_name, arg)
    on_cuda = tensor.device.type == "cuda"
    if backend == "auto":
        return "triton" if on_cuda and triton_available() else "torch"
    if backend == "triton" and not triton_available():
        raise ValueError(f"{op_name}: {arg} 'triton' needs Triton, which is not installed: use 'torch' or "
                         "'auto', or pip install triton")
    if backend == "triton" and not on_cuda and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError(f"{op_name}: {arg} 'triton' needs CUDA tensors (or TRITON_INTERPRET=1 for CPU ones), "
                         f"got a tensor on device {tensor.device}")
    return backend
