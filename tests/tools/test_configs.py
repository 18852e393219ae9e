"""Every registered model has a training recipe, and every recipe parses into tools/train.py's options."""
from __future__ import annotations

import pytest
import timm

import vimvision  # noqa: F401
from tests.helpers import ROOT
from vimvision.engine import build_parser
from vimvision.engine.options import parse_args
from vimvision.models.vim import OFFICIAL_NAMES
from vimvision.tasks import ClassificationTask

RECIPES = sorted((ROOT / "configs").glob("*.yaml"))


def test_every_registered_model_has_a_recipe():
    short_for = {long: short for short, long in OFFICIAL_NAMES.items()}
    names = {p.stem for p in RECIPES}
    for model in timm.list_models(["vim*", "vmamba*"]):
        assert short_for.get(model, model) in names, f"no configs/{model}.yaml"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_parses_and_names_a_model(recipe):
    args = parse_args(build_parser(ClassificationTask(), ""), ["--config", str(recipe)], "train.py")
    assert timm.is_model(args.model)
