"""A model as a deployable file: a core-ATen ``torch.export`` program (.pt2) or an ONNX graph, batch dynamic.

Both start from the same program: ``torch.export`` of the model, then ``run_decompositions`` with
``vimvision.kernels.decompositions()``, which rewrites every vimvision op (the scan as its closed form, with no
loop over time) in core ATen ops. Nothing in the result needs vimvision, Triton or a custom op to run: a .pt2
loads with plain torch, an ONNX file runs in any ONNX Runtime.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn

from .kernels import decompositions

ONNX_OPSET = 20  # the ONNX opset the graphs are written in (torch.onnx's default for torch 2.x's dynamo exporter)
EXAMPLE_BATCH = 2  # traced with 2 so that the batch stays symbolic (torch.export specializes sizes 0 and 1)


def example_input(model: nn.Module, img_size: tuple[int, int], batch: int = EXAMPLE_BATCH) -> torch.Tensor:
    """A random batch of images as the model's stem takes them (its first convolution's channels and dtype)."""
    stem = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    return torch.randn(batch, stem.in_channels, *img_size, dtype=stem.weight.dtype, device=stem.weight.device)


def export_program(model: nn.Module, img_size: tuple[int, int], dynamic_batch: bool = True
                   ) -> torch.export.ExportedProgram:
    """The model in eval mode as a program of core ATen ops only, for images of `img_size` (H, W)."""
    x = example_input(model, img_size)
    dynamic = ({0: torch.export.Dim("batch", min=1)},) if dynamic_batch else None
    program = torch.export.export(model.eval(), (x,), dynamic_shapes=dynamic)
    return program.run_decompositions(decompositions())


def save_onnx(program: torch.export.ExportedProgram, path: Path | str, opset: int = ONNX_OPSET,
              output_name: str = "logits") -> Path:
    """Writes `program` as an ONNX model with one input ``image`` (N, C, H, W) and one output."""
    # optimize=False: onnxscript's rewriter is superlinear in graph size (minutes for a 24-block Vim) and gains
    # nothing over the fusions ONNX Runtime applies when it loads the file (same latency, measured)
    onnx_program = torch.onnx.export(program, dynamo=True, opset_version=opset, input_names=["image"],
                                     output_names=[output_name], optimize=False, verbose=False)
    onnx_program.save(str(path))
    return Path(path)


def onnx_session(path: Path | str, threads: Optional[int] = None):
    """An ONNX Runtime CPU session for `path` (`threads` intra-op threads; ORT's default when None)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
