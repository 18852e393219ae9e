"""The options every trainer shares (timm's names) and YAML recipes layered with `_base_`.

Precedence: command line > --config YAML (its `_base_` files first, the file's own keys over them) >
the task's defaults. A recipe key must be an option of the tool and have the option's type; anything
else stops the tool with a message naming the file, the key and what was expected.
"""
from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
import yaml
from timm.utils import ParseKwargs

AMP_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """Optimization, checkpointing and runtime options, the same for classification, detection and segmentation."""
    p.add_argument("--config", default="", help="YAML recipe of option defaults (keys: long option names with _; "
                                                "`_base_: FILE` or a list of files layers recipes)")
    p.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs, metavar="K=V",
                   help="extra keyword arguments for the model (or backbone) constructor")
    p.add_argument("--pretrained-path", default=None, help="local weight file (official release or ours)")
    g = p.add_argument_group("optimization")
    g.add_argument("--epochs", type=int, default=300)
    g.add_argument("--batch-size", "-b", type=int, default=128, help="per process")
    g.add_argument("--grad-accum-steps", type=int, default=1)
    g.add_argument("--opt", default="adamw")
    g.add_argument("--lr", type=float, default=None, help="absolute lr; default lr-base * global batch / lr-base-size")
    g.add_argument("--lr-base", type=float, default=5e-4)
    g.add_argument("--lr-base-size", type=int, default=512)
    g.add_argument("--weight-decay", type=float, default=0.05)
    g.add_argument("--no-decay", default="tagged", choices=["tagged", "official"],
                   help="which parameters skip weight decay: 'tagged' (1-D, biases and what the model's "
                        "no_weight_decay() names, A_log and D included, as mamba) or 'official' (1-D, biases and "
                        "the official no_weight_decay() only, as the Vim and VMamba trainers: A_log decayed)")
    g.add_argument("--layer-decay", type=float, default=None)
    g.add_argument("--clip-grad", type=float, default=None, help="clip gradients to this norm (or value); > 0")
    g.add_argument("--clip-mode", default="norm", choices=["norm", "value", "agc"])
    g.add_argument("--sched", default="cosine")
    g.add_argument("--warmup-epochs", type=int, default=5)
    g.add_argument("--warmup-lr", type=float, default=1e-6)
    g.add_argument("--min-lr", type=float, default=1e-5)
    g.add_argument("--scale-warmup-min-lr", action="store_true",
                   help="scale --warmup-lr and --min-lr by global batch / lr-base-size too (VMamba's trainer)")
    g.add_argument("--warmup-prefix", action="store_true",
                   help="warm-up epochs come before the cosine, which then runs the full --epochs (VMamba)")
    g.add_argument("--sched-on-epochs", action="store_true",
                   help="step the schedule once per epoch (DeiT/Vim) instead of every update (Swin/VMamba)")
    g.add_argument("--model-ema", action="store_true", help="keep an EMA copy of the weights; it is evaluated")
    g.add_argument("--model-ema-decay", type=float, default=0.9998)
    g.add_argument("--best-on", default="model", choices=["model", "ema"],
                   help="which weights' score picks model_best.pth: the raw model (the official scripts) or the "
                        "EMA copy; with --model-ema both are evaluated and logged (ema_* columns)")
    g = p.add_argument_group("runtime")
    g.add_argument("--amp", action="store_true", help="mixed precision (see --amp-dtype)")
    g.add_argument("--amp-dtype", default="bfloat16", choices=sorted(AMP_DTYPES))
    g.add_argument("--fsdp", action="store_true",
                   help="fully sharded data parallel (FSDP2) under torchrun: each residual block and the model "
                        "(and the EMA copy) sharded over the processes; checkpoints hold full weights")
    g.add_argument("--channels-last", action="store_true")
    g.add_argument("--torchcompile", action="store_true",
                   help="torch.compile each residual block in place (regional: one compile per distinct block)")
    g.add_argument("--grad-checkpointing", action="store_true")
    g.add_argument("--workers", "-j", type=int, default=4)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    g.add_argument("--output", default="output/train")
    g.add_argument("--experiment", default="", help="subfolder of --output (default: named after the model)")
    g.add_argument("--resume", default="",
                   help="checkpoint to resume from; 'auto': the output folder's newest intact one")
    g.add_argument("--recovery-interval", type=int, default=0, help="optimizer steps between recovery checkpoints")
    g.add_argument("--log-interval", type=int, default=50,
                   help="optimizer steps between log lines when the progress bar is off (--no-progress); 0: none")
    g.add_argument("--no-progress", action="store_true")
    g.add_argument("--kill-after-steps", type=int, default=0, help=argparse.SUPPRESS)  # tests: hard exit mid-run


def load_recipe(path: Path, _seen: tuple = ()) -> dict:
    """A YAML mapping of option values, with its `_base_` files (paths relative to it) merged under it.

    Read with yaml.safe_load, not mmengine's Config (which has `_base_` too): mmengine reads YAML with the full
    loader, so a recipe could run code (`!!python/object/apply`); a recipe here holds plain values only."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--config {str(path)!r} does not exist")
    if path.resolve() in _seen:
        raise ValueError(f"--config {str(path)!r}: `_base_` files include each other ({' -> '.join(map(str, _seen))})")
    try:
        recipe = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"--config {str(path)!r} is not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(recipe, dict):
        raise ValueError(f"--config {str(path)!r} must hold a mapping of option: value, not {type(recipe).__name__}")
    bases = recipe.pop("_base_", [])
    merged: dict = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merged.update(load_recipe(path.parent / base, (*_seen, path.resolve())))
    merged.update(recipe)
    return merged


def _check_value(action: argparse.Action, key: str, value: Any, source: str) -> Any:
    """The recipe value as the option would have parsed it, or a ValueError naming what was expected."""
    def fail(expected: str):
        raise ValueError(f"config key {key!r} in {source} has {value!r} ({type(value).__name__}), expected {expected}")

    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            fail("true or false (unquoted)")
        return value
    if isinstance(action, ParseKwargs):
        if not isinstance(value, dict):
            fail("a mapping of keyword: value")
        return value
    if value is None:
        return value
    if action.nargs in ("*", "+") or isinstance(action.nargs, int):
        items = value if isinstance(value, list) else fail("a list")
    else:
        items = [value]
    parsed = []
    for item in items:
        if action.type in (int, float) and (isinstance(item, bool) or not isinstance(item, (int, float))
                                            or (action.type is int and not isinstance(item, int))):
            fail("an integer" if action.type is int else "a number")
        if action.type is None and not isinstance(item, str):
            fail("a string")
        item = action.type(item) if action.type else item
        if action.choices is not None and item not in action.choices:
            fail(f"one of {list(action.choices)}")
        parsed.append(item)
    return parsed if isinstance(value, list) else parsed[0]


def parse_args(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]], prog: str) -> argparse.Namespace:
    """Parse with the --config recipe as defaults; a bad recipe or value stops with `prog: message`."""
    pre, _ = parser.parse_known_args(argv)
    if getattr(pre, "config", ""):
        try:
            recipe = load_recipe(Path(pre.config))
            actions = {a.dest: a for a in parser._actions}
            for key in recipe:
                if key not in actions or key == "config":
                    close = difflib.get_close_matches(key, list(actions), n=3)
                    raise ValueError(f"config key {key!r} in {pre.config} is not an option"
                                     + (f" (did you mean {', '.join(close)}?)" if close else ""))
                recipe[key] = _check_value(actions[key], key, recipe[key], pre.config)
        except ValueError as error:
            raise SystemExit(f"{prog}: {error}") from None
        parser.set_defaults(**recipe)
    args = parser.parse_args(argv)
    check_training_args(args, prog)
    return args


def check_training_args(args: argparse.Namespace, prog: str) -> None:
    """Values argparse's types cannot rule out, named before anything is built."""
    positive = ["epochs", "batch_size", "grad_accum_steps"]
    for name in positive:
        if getattr(args, name) < 1:
            raise SystemExit(f"{prog}: --{name.replace('_', '-')} is {getattr(args, name)}, expected >= 1")
    for name in ("lr", "clip_grad"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise SystemExit(f"{prog}: --{name.replace('_', '-')} is {value}, expected a number > 0")
    for name in ("weight_decay", "warmup_epochs", "recovery_interval", "workers", "log_interval"):
        if getattr(args, name) < 0:
            raise SystemExit(f"{prog}: --{name.replace('_', '-')} is {getattr(args, name)}, expected >= 0")
    if args.best_on == "ema" and not args.model_ema:
        raise SystemExit(f"{prog}: --best-on ema needs --model-ema")
    if args.model_ema and not 0 < args.model_ema_decay < 1:
        raise SystemExit(f"{prog}: --model-ema-decay is {args.model_ema_decay}, expected a number in (0, 1)")
