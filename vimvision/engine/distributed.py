"""Fully sharded data parallel (FSDP2) for the trainers, and state dicts that do not depend on it.

Sharded runs save full, unsharded weights (plain state dicts that load anywhere: validate.py,
pretrained_cfg_overlay, a DDP or single-process run) and a full optimizer state keyed by parameter
name; per-rank RNG states are saved from every rank so a resumed multi-process run replays exactly.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

import torch.distributed as dist
import torch.nn as nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import FSDPModule, fully_shard

from ..compile import residual_blocks

_GATHER = StateDictOptions(full_state_dict=True, cpu_offload=True)  # rank 0 gets the full dict, others {}
_SCATTER = StateDictOptions(full_state_dict=True)  # every rank passes the full dict and keeps its shard


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_blocks(model: nn.Module) -> nn.Module:
    """Start every rank from rank 0's weights, then fully_shard every outermost residual block (a module
    whose class name ends in 'Block': VimBlock, VSSBlock, timm's Block / SwinTransformerBlock /
    ConvNeXtBlock), then the root. Blocks, not stages: VMamba's forward calls stage.blocks and
    stage.downsample, never the stage itself, so a sharded stage would never gather its parameters."""
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError("--fsdp needs a process group: launch with torchrun --nproc_per_node N")
    blocks = residual_blocks(model)
    if not blocks:
        raise ValueError(f"--fsdp: {type(model).__name__} has no module whose class name ends in 'Block' to shard")
    for tensor in model.state_dict().values():  # as DDP does: every rank starts from rank 0's weights
        dist.broadcast(tensor, src=0)
    for _, block in blocks:
        fully_shard(block)
    fully_shard(model)
    return model


def is_sharded(model: nn.Module) -> bool:
    return isinstance(model, FSDPModule)


def model_state(model: nn.Module) -> dict:
    """The full state dict (a collective for a sharded model: call it on every rank; rank 0 gets it)."""
    return get_model_state_dict(model, options=_GATHER) if is_sharded(model) else model.state_dict()


def optimizer_state(model: nn.Module, optimizer) -> dict:
    """Full optimizer state; keyed by parameter name for a sharded model (a collective), by index otherwise."""
    return get_optimizer_state_dict(model, optimizer, options=_GATHER) if is_sharded(model) else optimizer.state_dict()


def load_model_state(model: nn.Module, state: dict) -> None:
    if is_sharded(model):
        set_model_state_dict(model, state, options=_SCATTER)
    else:
        model.load_state_dict(state)


def load_optimizer_state(model: nn.Module, optimizer, state: dict) -> None:
    by_name = bool(state["state"]) and isinstance(next(iter(state["state"])), str)
    if by_name != is_sharded(model):
        written, now = ("an --fsdp", "without --fsdp") if by_name else ("a non-FSDP", "with --fsdp")
        raise ValueError(f"--resume: the optimizer state was written by {written} run and this run is {now}; "
                         "resume with the same setting (the model weights load either way)")
    if is_sharded(model):
        set_optimizer_state_dict(model, optimizer, state, options=_SCATTER)
    else:
        optimizer.load_state_dict(state)


@contextmanager
def gradient_sync(train_model: nn.Module, model: nn.Module, enabled: bool) -> Iterator[None]:
    """Gradients are all-reduced only on the micro-step that ends an update: DDP's no_sync, FSDP2's
    set_requires_gradient_sync, on the others (nothing to do without a process group)."""
    if enabled:
        yield
        return
    if is_sharded(model):
        model.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            model.set_requires_gradient_sync(True)
        return
    with train_model.no_sync() if isinstance(train_model, nn.parallel.DistributedDataParallel) else nullcontext():
        yield


def gather_objects(obj: Any) -> list:
    """One picklable object from every rank, as a list indexed by rank (a collective)."""
    rank, size = world()
    if size == 1:
        return [obj]
    out = [None] * size
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()
