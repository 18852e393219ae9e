"""The backend word that every op and layer takes, resolved here so that it means the same everywhere.

- ``reference``: the plain PyTorch ground truth that the tests compare the other backends against.
- ``torch``: the fast PyTorch path. Where an op has no faster PyTorch form than its reference
  (add+norm, cross-scan/merge, forgetting attention's SDPA), ``torch`` runs the reference itself.
- ``triton``: the Triton kernels; CUDA tensors, or CPU tensors under ``TRITON_INTERPRET=1``.
- ``numba``: the fused CPU kernels compiled by numba (CPU tensors), where an op has them (the scan);
  ``torch`` for the other ops.
- ``auto``: ``triton`` on CUDA tensors when Triton is installed; on CPU tensors ``numba`` where the op has
  numba kernels and numba is installed, ``torch`` otherwise.

Triton and numba are optional: each kernel module is imported on its backend's first call, so the package
and the PyTorch backends work where neither is installed (macOS, Windows, minimal CPU installs).
"""
from __future__ import annotations

import importlib.util
import os

import torch


def _installed(name: str) -> bool:
    """Whether `import name` finds the package, without importing it (a name hidden by
    ``sys.modules[name] = None`` counts as not installed)."""
    return importlib.util.find_spec(name) is not None


# read once at import: constants are what torch.compile needs (a cached import check inside a compiled
# region makes Dynamo warn about tracing through the cache at every compile)
_TRITON, _NUMBA = _installed("triton"), _installed("numba")


def triton_available() -> bool:
    return _TRITON


def numba_available() -> bool:
    return _NUMBA


BACKENDS = ("auto", "triton", "numba", "torch", "reference")


def check_backend(backend: str, op_name: str, arg: str = "backend") -> str:
    """Validate the word before any tensor exists (layers check theirs when they are built)."""
    if backend not in BACKENDS:
        raise ValueError(f"{op_name}: {arg} has {backend!r}, expected one of {BACKENDS}")
    return backend


def resolve_backend(backend: str, tensor: torch.Tensor, op_name: str, arg: str = "backend",
                    has_numba: bool = False) -> str:
    """The backend that runs on ``tensor``'s device: ``auto`` becomes ``triton``, ``numba`` or ``torch``.
    ``has_numba``: the op has numba kernels (elsewhere ``numba`` runs ``torch``)."""
    check_backend(backend, op_name, arg)
    on_cuda = tensor.device.type == "cuda"
    if backend == "auto":
        if on_cuda:
            return "triton" if triton_available() else "torch"
        return "numba" if has_numba and tensor.device.type == "cpu" and numba_available() else "torch"
    if backend == "numba":
        if not numba_available():
            raise ValueError(f"{op_name}: {arg} 'numba' needs numba, which is not installed: use 'torch' or "
                             "'auto', or pip install numba")
        if tensor.device.type != "cpu":
            raise ValueError(f"{op_name}: {arg} 'numba' needs CPU tensors, got a tensor on device {tensor.device}")
        return backend if has_numba else "torch"
    if backend == "triton" and not triton_available():
        raise ValueError(f"{op_name}: {arg} 'triton' needs Triton, which is not installed: use 'torch' or "
                         "'auto', or pip install triton")
    if backend == "triton" and not on_cuda and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError(f"{op_name}: {arg} 'triton' needs CUDA tensors (or TRITON_INTERPRET=1 for CPU ones), "
                         f"got a tensor on device {tensor.device}")
    return backend
