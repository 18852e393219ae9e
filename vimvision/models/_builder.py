"""The plumbing every family shares: building from the cfg, registering variants and aliases from data,
adapting checkpoints, pool checks, the grad-checkpointed block loop and the no-weight-decay tags."""
from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from typing import Any, Callable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from timm.models import build_model_with_cfg, checkpoint_seq, register_model
from timm.models._features import feature_take_indices

from ..validation import check_choice
from ._checkpoint import custom_load_overlay, load_strict, pick_state_dict, read_checkpoint

__all__ = [
    "Arch", "FamilyModel", "adapt_state_dict", "build_family_model", "check_global_pool", "factory_kwargs",
    "register_variants",
]

KeyConverter = Callable[[str, torch.Tensor], Tuple[str, torch.Tensor]]


class Arch(NamedTuple):
    """A registered variant: the constructor kwargs over the class defaults, and its entrypoint's docstring."""

    kwargs: dict
    doc: str


def check_global_pool(family: str, global_pool: str, allowed: Sequence[str]) -> str:
    return check_choice(family, "global_pool", global_pool, allowed)


def factory_kwargs(init: Callable) -> Callable:
    """timm's ``device=`` / ``dtype=`` factory arguments for a model __init__: the layers are built with device as
    the default device (so ``device='meta'`` allocates nothing, for ``to_empty`` + ``load_state_dict``) and then
    cast to dtype, which is what passing both to every layer, as timm's models do, amounts to."""
    @functools.wraps(init)
    def wrapped(self, *args, device: Optional[Union[str, torch.device]] = None,
                dtype: Optional[torch.dtype] = None, **kwargs) -> None:
        with torch.device(device) if device is not None else contextlib.nullcontext():
            init(self, *args, **kwargs)
        if dtype is not None:
            if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
                raise ValueError(f"{type(self).__name__}: dtype has {dtype!r}, expected a floating-point torch.dtype")
            self.to(dtype=dtype)

    signature = inspect.signature(init)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None) for name in ("device", "dtype")]
    wrapped.__signature__ = signature.replace(parameters=[*signature.parameters.values(), *extra])
    return wrapped


class FamilyModel(nn.Module):
    """The parts of timm's model API that are the same in every family. Subclasses hold their stages in
    ``self.layers``, set ``grad_checkpointing`` and ``INTERMEDIATE_FORMATS``, and implement filter_checkpoint
    (their checkpoint_filter_fn), walk_intermediates and prune_end.

    Decay-free parameters are tagged where they are created, as mamba does, but on the creating module
    (``no_weight_decay_params``, names of its own parameters) rather than on the Parameter: FSDP2's fully_shard,
    which tools/train.py applies before building the optimizer, and copy.deepcopy make new Parameter objects
    and drop attributes set on the old ones."""

    INTERMEDIATE_FORMATS: Tuple[str, ...] = ("NCHW",)

    def filter_checkpoint(self, state_dict: dict) -> dict:
        """An official or vimvision state dict in this model's layout."""
        raise NotImplementedError

    def load_pretrained(self, path: str, use_ema: Optional[bool] = None) -> None:
        """timm's custom_load hook. Official files hold 'model' and 'model_ema', and timm's generic loader would
        take the EMA copy; this loads 'model' (what official evaluation used) unless the pretrained tag ends in
        'ema', through filter_checkpoint, strictly."""
        if use_ema is None:
            use_ema = str(getattr(self, "pretrained_cfg", {}).get("tag") or "").endswith("ema")
        state_dict = self.filter_checkpoint(pick_state_dict(read_checkpoint(path), use_ema))
        load_strict(self, state_dict, source=f"checkpoint {path!r}")

    OFFICIAL_NO_WEIGHT_DECAY: Tuple[str, ...] = ()  # what the official model's no_weight_decay() names

    @torch.jit.ignore
    def no_weight_decay(self) -> set:
        """The tagged parameters (mamba's convention: A_log and D too), for timm's optimizer factory."""
        return {f"{prefix}.{name}" if prefix else name for prefix, module in self.named_modules()
                for name in getattr(module, "no_weight_decay_params", ())}

    @torch.jit.ignore
    def official_no_weight_decay(self) -> set:
        """What the official trainers exempt besides 1-D tensors and biases: the official model's
        no_weight_decay() names, not mamba's tags (so the 2-D A_log / A_logs are decayed there)."""
        return set(self.OFFICIAL_NO_WEIGHT_DECAY)

    def __prepare_scriptable__(self) -> nn.Module:
        """torch.jit.script calls this first: say why it cannot work and what does, instead of TorchScript's error
        from deep inside a kernel wrapper."""
        raise RuntimeError(
            f"{type(self).__name__}: torch.jit.script cannot compile this model: its kernels are torch.library ops "
            "reached through Python-level input checks and backend dispatch, which TorchScript does not compile. "
            "Use torch.jit.trace(model, example) (the traced module saves and loads), torch.export.export(model, "
            "(example,)), or torch.fx / timm's fx feature extraction.")

    def new_head(self, in_features: int, num_classes: int) -> nn.Module:
        """A classifier (Identity for 0 classes) on the model's device and dtype and in its train/eval mode,
        for reset_classifier."""
        reference = next(self.parameters())
        head = nn.Linear(in_features, num_classes, device=reference.device, dtype=reference.dtype) \
            if num_classes > 0 else nn.Identity()
        return head.train(self.training)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def run_blocks(self, blocks: Sequence[nn.Module], x: Any) -> Any:
        """blocks in order on x, each one recomputed in the backward (timm's checkpoint_seq) while grad
        checkpointing is on and gradients are recorded."""
        if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
            return checkpoint_seq(list(blocks), x, use_reentrant=False)
        for block in blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: Optional[Union[int, List[int]]] = None,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = "NCHW",
            intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """timm's contract over ``self.layers`` (indices, stop_early, intermediates_only); the family's
        walk_intermediates says what a tap is. output_fmt: one of the class's INTERMEDIATE_FORMATS."""
        if output_fmt not in self.INTERMEDIATE_FORMATS:
            raise ValueError(f"{type(self).__name__}: output_fmt has {output_fmt!r}, "
                             f"expected one of {self.INTERMEDIATE_FORMATS}")
        take_indices, max_index = feature_take_indices(len(self.layers), indices)
        stages = self.layers[: max_index + 1] if stop_early else self.layers
        final, intermediates = self.walk_intermediates(x, stages, take_indices, norm, output_fmt)
        return intermediates if intermediates_only else (final, intermediates)

    def walk_intermediates(self, x: torch.Tensor, stages: Sequence[nn.Module], take_indices: List[int], norm: bool,
                           output_fmt: str) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Run x through stages: (what forward_features gives after the last one, the taps at take_indices)."""
        raise NotImplementedError

    def prune_intermediate_layers(
            self,
            indices: Union[int, List[int]] = 1,
            prune_norm: bool = False,
            prune_head: bool = True,
    ) -> List[int]:
        """Keep the stages up to the last of indices (the family's prune_end drops what follows them)."""
        take_indices, max_index = feature_take_indices(len(self.layers), indices)
        self.layers = self.layers[: max_index + 1]
        self.prune_end(prune_norm)
        if prune_head:
            self.reset_classifier(0, "")
        return take_indices

    def prune_end(self, prune_norm: bool) -> None:
        """After prune_intermediate_layers cut the stages: drop what no longer has an input (and, with prune_norm,
        the final norm)."""
        raise NotImplementedError


def adapt_state_dict(state_dict: dict, model: nn.Module, classifier: str, convert: KeyConverter) -> dict:
    """Official or vimvision weights -> the model's: unwrap 'model'/'state_dict', strip DDP's 'module.', let the
    family rename or reshape each entry, and keep the model's own classifier where the file has none that fits."""
    own = model.state_dict()
    out = dict(convert(key.removeprefix("module."), value) for key, value in pick_state_dict(state_dict).items())
    for key in (f"{classifier}.weight", f"{classifier}.bias"):
        if key in out and (key not in own or out[key].shape != own[key].shape):
            out.pop(key)
    if f"{classifier}.weight" not in out and f"{classifier}.weight" in own:  # a new classifier keeps its init
        out.update({k: v for k, v in own.items() if k.startswith(f"{classifier}.")})
    return out


def build_family_model(model_cls: type, variant: str, pretrained: bool, filter_fn: Callable[[dict, nn.Module], dict],
                       default_out_indices: Tuple[int, ...], **kwargs) -> nn.Module:
    """timm's build_model_with_cfg, with weight files read by the family's load_pretrained and features_only
    served by forward_intermediates (at default_out_indices unless the caller passes out_indices).

    ``build_in=obj`` (vimvision.dense): initialize obj, an instance of a subclass of model_cls not yet
    initialized, with the constructor arguments timm resolves for the variant, instead of a new model_cls; so
    a dense backbone is its family's model, with the official parameter names, as the official backbones are."""
    overlay = custom_load_overlay(kwargs)
    target = kwargs.pop("build_in", None)
    if target is not None:
        if not isinstance(target, model_cls):
            family = next(c for c in type(target).__mro__[1:] if issubclass(c, FamilyModel) and c is not FamilyModel)
            raise ValueError(f"{type(target).__name__}: model_name has {variant!r}, a {model_cls.__name__} model; "
                             f"expected a {family.__name__} model")

        family = model_cls

        def init_in_place(**model_kwargs) -> nn.Module:
            family.__init__(target, **model_kwargs)
            return target

        model_cls = init_in_place
    return build_model_with_cfg(
        model_cls, variant, pretrained, pretrained_cfg_overlay=overlay, pretrained_filter_fn=filter_fn,
        feature_cfg=dict(feature_cls="getter", out_indices=default_out_indices), **kwargs,
    )


def register_variants(module: str, create: Callable[..., nn.Module], archs: Mapping[str, Arch],
                      aliases: Optional[Mapping[str, str]] = None) -> None:
    """Register a timm entrypoint per arch and per alias (another name for an arch, with its own pretrained cfgs),
    calling ``create(name, pretrained, **arch_kwargs, **kwargs)`` (the caller's kwargs win), and set each on the
    module as a written-out entrypoint would be (timm lists it in the module's ``__all__``)."""
    for name, target in {**{name: name for name in archs}, **(aliases or {})}.items():
        doc = archs[name].doc if name in archs else f"{target} under another name, with its own pretrained cfgs."
        setattr(sys.modules[module], name, register_model(_entrypoint(module, name, create, archs[target].kwargs, doc)))


def _entrypoint(module: str, name: str, create: Callable[..., nn.Module], arch_kwargs: dict, doc: str) -> Callable:
    def entrypoint(pretrained: bool = False, **kwargs) -> nn.Module:
        return create(name, pretrained, **dict(arch_kwargs, **kwargs))

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__, entrypoint.__doc__ = module, doc
    return entrypoint
