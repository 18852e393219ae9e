"""tools/timm_suite.py on a stand-in for timm's test tree: it adds our families to the two lists a new family joins,
selects only our models' tests (tagged cfg names too), skips the pretrained-download tests and counts the outcomes."""
import re

import pytest
import timm

import vimvision  # noqa: F401  (registers the models)
from tests.helpers import run_tool

STAND_IN = '''
import pytest
import timm

FEAT_INTER_FILTERS = ["resnet"]
NON_STD_FILTERS = ["vit_*"]


@pytest.mark.parametrize("model_name", timm.list_models(module=FEAT_INTER_FILTERS))
def test_intermediates(model_name):
    assert model_name.startswith(("vim", "vmamba")), model_name


@pytest.mark.parametrize("model_name", timm.list_models(filter=NON_STD_FILTERS, include_tags=True))
def test_non_std(model_name):
    assert model_name.startswith("vim_")
    assert model_name.split(".")[0] != "vim_base"  # fails once, so that failures are counted


@pytest.mark.parametrize("model_name", timm.list_models(pretrained=True, filter=["vim_tiny", "resnet18"]))
def test_model_load_pretrained(model_name):
    raise AssertionError("must be skipped without --downloads")
'''


@pytest.mark.slow
def test_runs_timm_tests_on_our_models_only(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "test_models.py").write_text(STAND_IN)
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    result = run_tool("timm_suite.py", "--timm-src", tmp_path, "-n", "0", check=False)
    counts = {name: tuple(map(int, found)) for name, *found in
              re.findall(r"^  (\w+) +passed +(\d+)  failed +(\d+)  skipped +(\d+)$", result.stdout, re.M)}
    ours = timm.list_models(module=["vim", "vim_fox", "vmamba"])
    tagged_vim = timm.list_models("vim_*", include_tags=True)
    vim_base = [n for n in tagged_vim if n.split(".")[0] == "vim_base"]
    assert counts["test_intermediates"] == (len(ours), 0, 0)
    assert counts["test_non_std"] == (len(tagged_vim) - len(vim_base), len(vim_base), 0)
    assert counts["test_model_load_pretrained"] == (0, 0, len(timm.list_models("vim_tiny", pretrained=True)))
    assert result.returncode == 1  # pytest's exit code: the vim_base failure
