"""Let mmengine reload its own checkpoints under torch >= 2.6, where torch.load defaults to weights_only.

mmengine 0.10.x saves its MessageHub (HistoryBuffer objects, numpy arrays and scalars) into every checkpoint
and reloads it with a bare torch.load, so resume, ``load_from`` and the frameworks' tools/test.py fail with
"Unsupported global: mmengine.logging.history_buffer.HistoryBuffer" unless the user turns weights_only off
for every file. Allowing these few globals instead keeps the restricted unpickler on: a HistoryBuffer
and numpy arrays get built, nothing runs. A HistoryBuffer pickles its statistics methods as
``getattr(HistoryBuffer, name)``; ``getattr`` itself is not allowed, only a stand-in that returns those.
"""
from __future__ import annotations

import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


def _history_buffer_method(owner: type, name: str):
    """The one use of getattr an mmengine checkpoint makes: a HistoryBuffer statistics method."""
    allowed = {"min", "max", "current", "mean", *HistoryBuffer._statistics_methods}  # defaults + registered
    if owner is HistoryBuffer and isinstance(name, str) and name in allowed:
        return getattr(owner, name)
    raise pickle.UnpicklingError(f"refused getattr({owner!r}, {name!r}) while loading a checkpoint: only "
                                 "mmengine HistoryBuffer statistics methods are allowed")


def allow_mmengine_checkpoints() -> None:
    """Add what mmengine checkpoints hold besides tensors to torch.load's weights_only allow-list."""
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    dtype_classes = [getattr(np.dtypes, name) for name in np.dtypes.__all__]  # np.dtype(...)'s classes
    torch.serialization.add_safe_globals([
        HistoryBuffer, np.ndarray, np.dtype, *dtype_classes,
        (multiarray._reconstruct, f"{multiarray.__name__}._reconstruct"),
        (multiarray.scalar, f"{multiarray.__name__}.scalar"),
        (_history_buffer_method, "builtins.getattr"),
    ])
