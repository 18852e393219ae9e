"""Convert an official (or vimvision) checkpoint into a vimvision file, with a report.

    python tools/convert_checkpoint.py --model vim_small --input vim_s_midclstok_80p5acc.pth \
        --output vim_small.safetensors
    python tools/convert_checkpoint.py --model vim_tiny --input ckpt.pth --output out.safetensors --ema \
        --model-kwargs depth=2
    python tools/convert_checkpoint.py --model vmamba_tiny_v0 --input vssmtiny_mask_rcnn_swin_fpn_coco_epoch_12.pth \
        --output mask_rcnn_vmamba_tiny_v0.pth --config configs/mmdet/mask_rcnn_vmamba_tiny_v0_fpn_1x_coco.py

Every source key is reported as kept, renamed (to its new name), reshaped (e.g. a resampled position
embedding) or dropped, and every model key the file lacks as missing; missing keys are an error.
A classification file becomes safetensors that loads with
``timm.create_model(NAME, pretrained=True, pretrained_cfg_overlay=dict(file=OUT))``.
A whole detector/segmentor file (``backbone.*`` keys) becomes an mmengine checkpoint (.pth, tensors only)
for ``load_from=`` or the frameworks' tools/test.py: its backbone part goes through the family's
conversion and is checked against the dense backbone (official names, outnorms); the neck and head keys
are kept, and checked too when --config names the model (needs mmdet / mmseg).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import timm
import torch
from timm.utils import ParseKwargs

from vimvision.models import FamilyModel, load_strict, pick_state_dict, read_checkpoint


def _report(original: dict, converted: dict, own_keys, prefix: str = "") -> dict:
    """What the conversion did to each key of `original` (into `converted`), and what `own_keys` lacks."""
    by_identity = {id(v): k for k, v in converted.items()}
    report: dict = {"kept": [], "renamed": {}, "reshaped": [], "dropped": [], "missing": []}
    for key, value in original.items():
        if key in converted and converted[key] is value:
            report["kept"].append(prefix + key)
        elif key in converted:
            report["reshaped"].append(f"{prefix}{key}: {tuple(value.shape)} -> {tuple(converted[key].shape)}")
        elif id(value) in by_identity:
            report["renamed"][prefix + key] = prefix + by_identity[id(value)]
        else:
            report["dropped"].append(prefix + key)
    report["missing"] = sorted(prefix + k for k in set(own_keys) - converted.keys())
    return report


def convert(model_name: str, original: dict, source: str, model_kwargs: dict | None = None):
    """A classification state dict (read from `source`): (converted state dict, report {kept, renamed, reshaped,
    dropped, missing})."""
    model = timm.create_model(model_name, **(model_kwargs or {}))
    if not isinstance(model, FamilyModel):
        raise ValueError(f"--model {model_name!r} is not a Vim or VMamba model (nothing to convert its files from)")
    converted = model.filter_checkpoint(dict(original))
    report = _report(original, converted, model.state_dict())
    load_strict(model, converted, source=f"checkpoint {source!r}")  # raises, naming keys, if it does not fit
    return {k: v.contiguous() for k, v in model.state_dict().items()}, report


def is_dense(state_dict: dict) -> bool:
    return any(k.removeprefix("module.").startswith("backbone.") for k in state_dict)


def convert_dense(model_name: str, original: dict, source: str, model_kwargs: dict | None = None,
                  config: Path | None = None):
    """A whole detector/segmentor state dict (read from `source`): (converted state dict, report); the backbone
    part is checked against the dense backbone of `model_name`, the whole against `config`'s model if given."""
    from vimvision.dense.torchvision import build_backbone

    original = {k.removeprefix("module."): v for k, v in original.items()}
    part = {k.removeprefix("backbone."): v for k, v in original.items() if k.startswith("backbone.")}
    backbone = build_backbone(model_name, **(model_kwargs or {}))
    converted = backbone.filter_checkpoint(dict(part))
    report = _report(part, converted, backbone.state_dict(), prefix="backbone.")
    load_strict(backbone, converted, source=f"the backbone part of {source!r}")
    rest = {k: v for k, v in original.items() if not k.startswith("backbone.")}
    report["kept"] += list(rest)
    state_dict = {**{f"backbone.{k}": v.contiguous() for k, v in converted.items()}, **rest}
    if config is not None:
        from vimvision.dense.mm_build import build_mm_model

        load_strict(build_mm_model(config)[0], state_dict, source=f"checkpoint {source!r} (converted)")
    else:
        report["unchecked"] = sorted(rest)  # neck and heads: --config checks them against the model
    return state_dict, report


def _print_report(report: dict) -> None:
    for what in ("kept", "reshaped", "dropped", "missing"):
        print(f"{what:9s} {len(report[what]):5d}" + "".join(f"\n          {k}" for k in report[what] if what != "kept"))
    renamed = "".join(f"\n          {a} -> {b}" for a, b in report["renamed"].items())
    print(f"renamed   {len(report['renamed']):5d}" + renamed)
    if "unchecked" in report:
        print(f"unchecked {len(report['unchecked']):5d} neck/head keys kept as they are (--config checks them)")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="registered model name (of the backbone, for dense files)")
    p.add_argument("--input", required=True, type=Path, help="official .pth or vimvision checkpoint")
    p.add_argument("--output", required=True, type=Path,
                   help="where to write: .safetensors (classification) or .pth (whole detector/segmentor)")
    p.add_argument("--ema", action="store_true", help="take the EMA weights instead of 'model'")
    p.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V",
                   help="constructor overrides, e.g. depth=2")
    p.add_argument("--config", type=Path, default=None, help="mmdet/mmseg config whose model a dense file must fit")
    p.add_argument("--report", type=Path, default=None, help="also write the key report as JSON")
    args = p.parse_args(argv)
    from safetensors.torch import save_file

    try:
        original = pick_state_dict(read_checkpoint(args.input), args.ema)
        dense = is_dense(original)
        suffix = ".pth" if dense else ".safetensors"
        if args.output.suffix != suffix:
            raise ValueError(f"--output has {str(args.output)!r}, expected a {suffix} file for a "
                             f"{'whole detector/segmentor' if dense else 'classification'} checkpoint")
        if args.config and not dense:
            raise ValueError(f"--config has {str(args.config)!r}, but {str(args.input)!r} is a classification "
                             "checkpoint (no backbone.* keys)")
        if dense:
            state_dict, report = convert_dense(args.model, original, str(args.input), args.model_kwargs, args.config)
        else:
            state_dict, report = convert(args.model, original, str(args.input), args.model_kwargs)
    except (ValueError, KeyError, FileNotFoundError, ImportError) as e:
        sys.exit(f"convert_checkpoint: {e}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model": args.model, "source": args.input.name, "weights": "ema" if args.ema else "model"}
    if dense:
        torch.save({"meta": meta, "state_dict": state_dict}, args.output)
    else:
        save_file(state_dict, str(args.output), metadata=meta)
    _print_report(report)
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.output} ({sum(v.numel() for v in state_dict.values()):,} parameters)")


if __name__ == "__main__":
    main()
