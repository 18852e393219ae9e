"""Regional compilation: torch.compile each residual block in place, not the whole model.

Compiling the whole model traces every one of its 24 (Vim) or 15 (VMamba) blocks: on a CPU that took
about 430 CPU-seconds for vim_tiny. The blocks of a model are alike, and Dynamo reuses one compiled
graph for modules of the same code and shapes (parameters are graph inputs), so compiling the blocks
one by one costs one compile per distinct block (one for Vim, one per stage for VMamba) and the
stem, head and VMamba's downsampling stay eager. This is PyTorch's "regional compilation" recipe.

A block may name the parts worth compiling (``compile_regions()``): VMamba's VSSBlock names its norms and
MLP. Its SS2D is convolutions and opaque custom ops around the scan, so compiling it bought one compile per
stage and no speed (2 CPU cores, vmamba_tiny b8 at 224: whole blocks 95 / 255 CPU-s to compile for inference /
training at 0.87x / 0.96x eager; norms and MLP 6 / 12 CPU-s at 1.02x / 1.00x, benchmarks/cpu_compile.md).

Shapes are static (``dynamic=False``): Inductor 2.14 fails on VMamba's training graph with symbolic
sizes ("cannot determine truth value of Relational"). Each distinct (shape, train/eval, grad mode)
of a block is one compile; as all blocks of a model share one code object, Dynamo's per-code
recompile limit (8: VMamba's 4 stages x train/eval already) is raised to 64, else later shapes
would silently run eager.

    vimvision.compile_blocks(model)            # in place; returns the model
"""
from __future__ import annotations

import torch
import torch.nn as nn

RECOMPILE_LIMIT = 64


def residual_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every outermost module whose class name ends in 'Block' (VimBlock, VSSBlock, timm's Block /
    SwinTransformerBlock / ConvNeXtBlock), with its name."""
    blocks: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        inside = any(name.startswith(f"{prefix}.") for prefix, _ in blocks)
        if type(module).__name__.endswith("Block") and not inside:
            blocks.append((name, module))
    return blocks


def compiled_regions(model: nn.Module) -> list[nn.Module]:
    """What compile_blocks compiles: every residual block, or the parts it names with ``compile_regions()``."""
    regions: list[nn.Module] = []
    for _, block in residual_blocks(model):
        regions.extend(block.compile_regions() if hasattr(block, "compile_regions") else [block])
    return regions


def compile_blocks(model: nn.Module, dynamic: bool = False, **compile_kwargs) -> nn.Module:
    """``module.compile(dynamic=dynamic, **compile_kwargs)`` on every residual block of `model` (or the parts
    the block names), in place."""
    if not residual_blocks(model):
        raise ValueError(f"compile_blocks: {type(model).__name__} has no module whose class name ends in 'Block'")
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    for region in compiled_regions(model):
        region.compile(dynamic=dynamic, **compile_kwargs)
    return model
