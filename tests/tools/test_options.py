"""Recipes and options: `_base_` layering, and every malformed recipe or value is a named error."""
from __future__ import annotations

import pytest

from vimvision.engine import build_parser
from vimvision.engine.options import load_recipe, parse_args
from vimvision.tasks import ClassificationTask, SegmentationTask


def parse(argv, task=None):
    task = task or ClassificationTask()
    return parse_args(build_parser(task, ""), argv, task.prog)


def test_base_files_are_read_first_and_overridden(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "a.yaml").write_text("epochs: 5\nlr: 0.1\nmodel_kwargs: {depth: 2}\n")
    (tmp_path / "base" / "b.yaml").write_text("lr: 0.2\nwarmup_epochs: 1\n")
    (tmp_path / "run.yaml").write_text("_base_: [base/a.yaml, base/b.yaml]\nwarmup_epochs: 0\nmodel: vmamba_tiny\n")
    assert load_recipe(tmp_path / "run.yaml") == dict(epochs=5, lr=0.2, model_kwargs={"depth": 2}, warmup_epochs=0,
                                                      model="vmamba_tiny")
    args = parse(["--config", str(tmp_path / "run.yaml"), "--epochs", "7"])
    assert (args.epochs, args.lr, args.warmup_epochs, args.model) == (7, 0.2, 0, "vmamba_tiny")  # CLI > recipe


@pytest.mark.parametrize("text,message", [
    ("amp: 'false'\n", "config key 'amp' in {path} has 'false' (str), expected true or false (unquoted)"),
    ("epochs: 1.5\n", "config key 'epochs' in {path} has 1.5 (float), expected an integer"),
    ("lr: fast\n", "config key 'lr' in {path} has 'fast' (str), expected a number"),
    ("amp_dtype: int8\n", "config key 'amp_dtype' in {path} has 'int8' (str), expected one of"),
    ("model_kwargs: [1, 2]\n", "config key 'model_kwargs' in {path} has [1, 2] (list), expected a mapping"),
    ("learning_rate: 0.1\n", "config key 'learning_rate' in {path} is not an option"),
    ("model: [unclosed\n", "--config '{path}' is not valid YAML"),
    ("- a\n- b\n", "--config '{path}' must hold a mapping of option: value, not list"),
    ("_base_: missing.yaml\n", "--config '{dir}/missing.yaml' does not exist"),
    ("_base_: run.yaml\n", "`_base_` files include each other"),
    ("x: !!python/object/apply:os.system [echo]\n", "--config '{path}' is not valid YAML"),  # never runs code
])
def test_malformed_recipes_are_named(tmp_path, capsys, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        parse(["--config", str(path)])
    assert message.format(path=path, dir=tmp_path) in str(exit_info.value)
    assert str(exit_info.value).startswith("train.py: ")


@pytest.mark.parametrize("argv,message", [
    (["--clip-grad", "-1"], "--clip-grad is -1.0, expected a number > 0"),
    (["--lr", "0"], "--lr is 0.0, expected a number > 0"),
    (["--epochs", "0"], "--epochs is 0, expected >= 1"),
    (["--grad-accum-steps", "0"], "--grad-accum-steps is 0, expected >= 1"),
    (["--weight-decay", "-0.1"], "--weight-decay is -0.1, expected >= 0"),
    (["--model-ema", "--model-ema-decay", "1.5"], "--model-ema-decay is 1.5, expected a number in (0, 1)"),
    (["--best-on", "ema"], "--best-on ema needs --model-ema"),
])
def test_bad_values_are_named(argv, message):
    with pytest.raises(SystemExit, match=f"^train.py: {message.replace('(', '[(]').replace(')', '[)]')}"):
        parse(argv)


def test_every_task_shares_the_training_options():
    """--config, --fsdp, --model-ema, --grad-accum-steps and AMP exist for segmentation as for classification."""
    args = parse(["--data-dir", "d", "--num-classes", "3", "--fsdp", "--model-ema", "--grad-accum-steps", "2",
                  "--amp", "--amp-dtype", "float16"], SegmentationTask())
    assert (args.fsdp, args.model_ema, args.grad_accum_steps, args.amp_dtype) == (True, True, 2, "float16")
    assert (args.lr, args.sched, args.epochs) == (6e-5, "poly", 50)  # the segmentation recipe's defaults
