"""Run timm's own model test suite (tests/test_models.py of the installed timm release) on the models vimvision
registers, and print each test's pass / fail / skip counts.

    python tools/timm_suite.py                 # every vimvision model, 2 workers
    python tools/timm_suite.py -k vim_tiny -n 0
    python tools/timm_suite.py --timm-src DIR  # an unpacked timm source tree instead of the PyPI sdist

The sdist of the installed timm version is fetched once with pip into ~/.cache/vimvision (the wheel has no tests)
and its tests unpacked into a temporary folder for each run.
Only the test tree is used, so timm itself is the installed one, with the one edit a contributor makes when adding
a family to timm: our modules join FEAT_INTER_FILTERS (they have forward_intermediates) and Vim's names join
NON_STD_FILTERS (token outputs, as vit_* / deit*). The same file is also the pytest plugin that imports vimvision,
deselects every other model's tests and skips the pretrained-download tests unless --downloads is given.
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Optional

FAMILY_MODULES = ("vim", "vim_fox", "vmamba")
NON_STD = ("vim_*",)
DOWNLOAD_TESTS = ("test_model_load_pretrained", "test_model_features_pretrained", "test_model_inference")
CACHE = Path(os.environ.get("VIMVISION_CACHE", Path.home() / ".cache" / "vimvision"))


def timm_sdist(version: str) -> Path:
    """timm's source archive from PyPI, downloaded once into the cache."""
    archive = CACHE / f"timm-{version}.tar.gz"
    if not archive.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"timm=={version}", "-d", str(CACHE)], check=True)
    return archive


def timm_tests(version: str, timm_src: Optional[Path], target: Path) -> None:
    """timm's tests/ and pyproject.toml (its markers) into target, without its package, families added."""
    with tempfile.TemporaryDirectory() as tmp:
        if timm_src is None:
            with tarfile.open(timm_sdist(version)) as archive:
                archive.extractall(tmp, filter="data")
            timm_src = next(p for p in Path(tmp).iterdir() if p.is_dir())
        shutil.copytree(timm_src / "tests", target / "tests")
        shutil.copy(timm_src / "pyproject.toml", target / "pyproject.toml")
    add_families(target / "tests" / "test_models.py")


def add_families(test_file: Path) -> None:
    """Extend the two lists in timm's test_models.py that a new family is added to."""
    text = test_file.read_text()
    for name, entries in (("FEAT_INTER_FILTERS", FAMILY_MODULES), ("NON_STD_FILTERS", NON_STD)):
        head = f"{name} = ["
        if head not in text:
            raise RuntimeError(f"{test_file}: no {head!r} list to add {entries} to; timm's test layout changed")
        text = text.replace(head, head + "".join(f"{entry!r}, " for entry in entries), 1)
    test_file.write_text(text)


def summarize(junit: Path) -> Dict[str, collections.Counter]:
    """test function -> Counter of passed / failed / skipped over its parametrizations."""
    counts: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for case in ET.parse(junit).iter("testcase"):
        name = case.get("name", "").split("[")[0]
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        counts[name][outcome] += 1
    return counts


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timm-src", type=Path, help="an unpacked timm source tree (default: its PyPI sdist)")
    parser.add_argument("-n", "--workers", default="2", help="pytest-xdist workers (0: one process)")
    parser.add_argument("--downloads", action="store_true", help="run the tests that fetch pretrained weights")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression on top of the vimvision selection")
    args, extra = parser.parse_known_args(argv)
    import timm

    root = Path(tempfile.mkdtemp(prefix="timm-suite-"))
    timm_tests(timm.__version__, args.timm_src, root)
    junit = root / "junit.xml"
    command = [sys.executable, "-m", "pytest", "tests/test_models.py", "-p", "timm_suite", "-q", "-rf",
               "-n", args.workers, f"--junitxml={junit}", "-o", "addopts=", "-p", "no:cacheprovider"]
    if args.keyword:
        command += ["-k", args.keyword]
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, VIMVISION_TIMM_DOWNLOADS="1" if args.downloads else "", PYTHONPATH=path)
    code = subprocess.run(command + extra, cwd=root, env=env).returncode
    if junit.is_file():
        print(f"\ntimm {timm.__version__} tests/test_models.py on vimvision's models:")
        total: collections.Counter = collections.Counter()
        for name, counts in sorted(summarize(junit).items()):
            total.update(counts)
            print(f"  {name:45s} " + "  ".join(f"{k} {counts[k]:3d}" for k in ("passed", "failed", "skipped")))
        print(f"  {'total':45s} " + "  ".join(f"{k} {total[k]:3d}" for k in ("passed", "failed", "skipped")))
    shutil.rmtree(root, ignore_errors=True)
    return code


# --- pytest plugin half (loaded as `-p timm_suite` inside timm's test tree) ---

def pytest_configure(config) -> None:
    import vimvision  # noqa: F401  (registers the models before timm's test module lists them)


def pytest_collection_modifyitems(config, items) -> None:
    import pytest
    import timm

    ours = set(timm.list_models(module=list(FAMILY_MODULES)))
    downloads = os.environ.get("VIMVISION_TIMM_DOWNLOADS") == "1"
    keep, drop = [], []
    for item in items:
        name = getattr(item, "callspec", None) and item.callspec.params.get("model_name")
        ok = isinstance(name, str) and name.split(".")[0] in ours  # cfg tests list tagged names
        (keep if ok else drop).append(item)
        if ok and item.originalname in DOWNLOAD_TESTS and not downloads:
            item.add_marker(pytest.mark.skip(reason="fetches pretrained weights from the hub (--downloads)"))
    config.hook.pytest_deselected(items=drop)
    items[:] = keep


if __name__ == "__main__":
    sys.exit(main())
