"""Convert an official (or vimvision) checkpoint into a vimvision safetensors file, with a report.

    python tools/convert_checkpoint.py --model vim_small --input vim_s_midclstok_80p5acc.pth \
        --output vim_small.safetensors
    python tools/convert_checkpoint.py --model vim_tiny --input ckpt.pth --output out.safetensors --ema \
        --model-kwargs depth=2

Every source key is reported as kept, renamed (to its new name), reshaped (e.g. a resampled position
embedding) or dropped, and every model key the file lacks as missing; missing keys are an error.
The output loads with ``timm.create_model(NAME, pretrained=True, pretrained_cfg_overlay=dict(file=OUT))``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import timm
from timm.utils import ParseKwargs

from vimvision.models import FamilyModel, load_strict, pick_state_dict, read_checkpoint


def convert(model_name: str, source: Path, use_ema: bool = False, model_kwargs: dict | None = None):
    """Returns (converted state dict, report {kept, renamed, reshaped, dropped, missing})."""
    model = timm.create_model(model_name, **(model_kwargs or {}))
    if not isinstance(model, FamilyModel):
        raise ValueError(f"--model {model_name!r} is not a Vim or VMamba model (nothing to convert its files from)")
    original = pick_state_dict(read_checkpoint(source), use_ema)
    converted = model.filter_checkpoint(dict(original))
    by_identity = {id(v): k for k, v in converted.items()}
    report: dict = {"kept": [], "renamed": {}, "reshaped": [], "dropped": [], "missing": []}
    for key, value in original.items():
        if key in converted and converted[key] is value:
            report["kept"].append(key)
        elif key in converted:
            report["reshaped"].append(f"{key}: {tuple(value.shape)} -> {tuple(converted[key].shape)}")
        elif id(value) in by_identity:
            report["renamed"][key] = by_identity[id(value)]
        else:
            report["dropped"].append(key)
    report["missing"] = sorted(model.state_dict().keys() - converted.keys())
    load_strict(model, converted, source=f"checkpoint {str(source)!r}")  # raises, naming keys, if it does not fit
    return {k: v.contiguous() for k, v in model.state_dict().items()}, report


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="registered model name, e.g. vim_small")
    p.add_argument("--input", required=True, type=Path, help="official .pth or vimvision checkpoint")
    p.add_argument("--output", required=True, type=Path, help="where to write the .safetensors file")
    p.add_argument("--ema", action="store_true", help="take the EMA weights instead of 'model'")
    p.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V",
                   help="constructor overrides, e.g. depth=2")
    p.add_argument("--report", type=Path, default=None, help="also write the key report as JSON")
    args = p.parse_args(argv)
    from safetensors.torch import save_file

    try:
        state_dict, report = convert(args.model, args.input, args.ema, args.model_kwargs)
    except (ValueError, KeyError, FileNotFoundError) as e:
        sys.exit(f"convert_checkpoint: {e}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_file(state_dict, str(args.output), metadata={"model": args.model, "source": args.input.name,
                                                      "weights": "ema" if args.ema else "model"})
    for what in ("kept", "reshaped", "dropped", "missing"):
        print(f"{what:9s} {len(report[what]):5d}" + "".join(f"\n          {k}" for k in report[what] if what != "kept"))
    renamed = "".join(f"\n          {a} -> {b}" for a, b in report["renamed"].items())
    print(f"renamed   {len(report['renamed']):5d}" + renamed)
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.output} ({sum(v.numel() for v in state_dict.values()):,} parameters)")


if __name__ == "__main__":
    main()
