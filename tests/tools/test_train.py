"""tools/train.py: resume after a hard kill ends exactly like an uninterrupted run; timm folder data;
clear errors; the embedded digits demo learns."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from PIL import Image

import vimvision  # noqa: F401  (registers the models)
from tests.helpers import ROOT, torchrun

pytestmark = pytest.mark.slow
TRAIN = ROOT / "tools" / "train.py"
TINY = ["--dataset", "digits", "--img-size", "32", "--model", "vmamba_tiny", "--model-kwargs", "depths=[1,1,1,1]",
        "dims=8", "num_classes=10", "--epochs", "2", "--batch-size", "64", "--lr", "2e-3", "--warmup-epochs", "1",
        "--drop-path", "0.1", "--model-ema", "--no-progress", "--seed", "3"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(TRAIN), *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(result.stdout[-3000:] + result.stderr[-3000:])
    return result


def _timing_free(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "train_img_per_s"} for r in rows]


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    run(*TINY, "--output", str(tmp_path), "--experiment", "whole")
    killed = run(*TINY, "--output", str(tmp_path), "--experiment", "killed", "--recovery-interval", "5",
                 "--kill-after-steps", "29", check=False)
    assert killed.returncode == 17  # died mid-epoch 1 (22 steps per epoch), last recovery at step 25
    recovery = torch.load(tmp_path / "killed" / "recovery.pth", weights_only=True)
    assert (recovery["epoch"], recovery["step"], recovery["num_updates"]) == (1, 3, 25)  # the resume point: mid-epoch
    run(*TINY, "--output", str(tmp_path), "--experiment", "killed", "--recovery-interval", "5", "--resume", "auto")
    whole = torch.load(tmp_path / "whole" / "last.pth", weights_only=True)
    resumed = torch.load(tmp_path / "killed" / "last.pth", weights_only=True)
    for key in ("model", "model_ema"):
        for name, value in whole[key].items():
            assert torch.equal(value, resumed[key][name]), f"{key}.{name} differs after resume"
    assert _timing_free(_rows(tmp_path / "whole" / "summary.csv")) == \
        _timing_free(_rows(tmp_path / "killed" / "summary.csv"))
    assert (tmp_path / "killed" / "curves.png").stat().st_size > 1000
    assert list((tmp_path / "killed" / "tensorboard").iterdir())
    # with EMA both copies are scored; the best file follows the raw model, as the official scripts select
    rows = _rows(tmp_path / "whole" / "summary.csv")
    assert all(r["eval_top1"] and r["eval_ema_top1"] for r in rows)
    best = torch.load(tmp_path / "whole" / "model_best.pth", weights_only=True)
    assert best["eval_top1"] == pytest.approx(max(float(r["eval_top1"]) for r in rows), abs=1e-4)


def test_folder_dataset_through_timm_loaders(tmp_path):
    from vimvision.data import Digits

    data = Digits("validation", img_size=32)
    for split, rng in (("train", range(0, 200)), ("val", range(200, 260))):
        for i in rng:
            image = ((data.images[i, 0] * 0.3234 + 0.3049).clamp(0, 1) * 255).byte().numpy()
            folder = tmp_path / "data" / split / f"class_{int(data.targets[i])}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).convert("RGB").save(folder / f"{i}.png")
    run("--data-dir", str(tmp_path / "data"), "--model", "vmamba_tiny", "--model-kwargs", "depths=[1,1,1,1]",
        "dims=8", "--num-classes", "10", "--img-size", "32", "--epochs", "1", "--batch-size", "32", "--workers", "0",
        "--no-progress", "--output", str(tmp_path / "out"), "--experiment", "folder")
    (row,) = _rows(tmp_path / "out" / "folder" / "summary.csv")
    assert {"epoch", "train_loss", "eval_top1", "eval_top5", "lr"} <= row.keys()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--data-dir", "/nonexistent/imagenet"], "--data-dir '/nonexistent/imagenet' is not a folder"),
        (["--config", "/nonexistent.yaml"], "--config '/nonexistent.yaml' does not exist"),
        (["--dataset", "digits", "--batch-size", "5000", "--model", "vmamba_tiny"], "batch size 5000"),
        (["--dataset", "digits", "--model", "vmamba_tiny", "--fsdp"], "--fsdp needs several processes"),
        (["--dataset", "digits", "--model", "vmamba_tiny", "--num-classes", "5"],
         "--num-classes 5 is smaller than the 10 classes of digits"),
    ],
)
def test_errors_name_the_problem(args, message, tmp_path):
    result = run(*args, "--output", str(tmp_path), check=False)
    assert result.returncode != 0 and message in result.stderr


def test_unknown_config_key_is_named(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model: vim_tiny\nlearning_rate: 0.1\n")
    result = run("--config", str(cfg), check=False)
    assert "config key 'learning_rate'" in result.stderr


def test_empty_class_folders_are_named(tmp_path):
    (tmp_path / "data" / "train").mkdir(parents=True)
    result = run("--data-dir", str(tmp_path / "data"), "--output", str(tmp_path), check=False)
    assert "has no class folders" in result.stderr


def test_digits_demo_learns(tmp_path):
    """CI's shortened demo: two epochs of the demo VMamba reach far above chance (10 %)."""
    run("--config", str(ROOT / "configs" / "demo_vmamba.yaml"), "--epochs", "2", "--no-progress",
        "--output", str(tmp_path))
    rows = _rows(tmp_path / "vmamba" / "summary.csv")
    assert float(rows[-1]["eval_top1"]) > 60


def test_validate_and_benchmark_tools(tmp_path):
    """validate.py evaluates a trained checkpoint at two resolutions; benchmark.py writes ratios and a plot.
    Without a progress bar, training logs every --log-interval optimizer steps."""
    trained = run(*TINY, "--epochs", "1", "--output", str(tmp_path), "--experiment", "v", "--log-interval", "10")
    assert [line.split(":")[0] for line in trained.stdout.splitlines() if " step " in line] == \
        ["epoch 0 step 10/22", "epoch 0 step 20/22"]
    tools = ROOT / "tools"
    out = subprocess.run([sys.executable, str(tools / "validate.py"), "--model", "vmamba_tiny", "--checkpoint",
                          str(tmp_path / "v" / "model_best.pth"), "--dataset", "digits", "--model-kwargs",
                          "depths=[1,1,1,1]", "dims=8", "num_classes=10", "--img-size", "32", "64",
                          "--results-csv", str(tmp_path / "val.csv")], capture_output=True, text=True, check=True)
    assert [r["img_size"] for r in _rows(tmp_path / "val.csv")] == ["32", "64"], out.stdout
    subprocess.run([sys.executable, str(tools / "benchmark.py"), "--models", "vmamba_tiny", "--baselines",
                    "deit_tiny_patch16_224", "--img-size", "64", "--batch-size", "1", "--mode", "infer",
                    "--warmup", "0", "--repeats", "1", "--csv", str(tmp_path / "b.csv"), "--plot",
                    str(tmp_path / "b.png")], capture_output=True, text=True, check=True)
    rows = _rows(tmp_path / "b.csv")
    assert [r["model"] for r in rows] == ["vmamba_tiny", "deit_tiny_patch16_224"]
    assert float(rows[1]["x_deit_tiny_patch16_224"]) == 1.0 and float(rows[0]["img_per_s"]) > 0
    assert (tmp_path / "b.png").stat().st_size > 1000


@pytest.mark.distributed
def test_distributed_data_parallel_with_amp_and_accumulation(tmp_path):
    """torchrun with two CPU processes (gloo), bf16 autocast, gradient accumulation, channels-last."""
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", str(TRAIN), *TINY, "--epochs", "1",
         "--batch-size", "32", "--amp", "--amp-dtype", "bfloat16", "--grad-accum-steps", "2", "--channels-last",
         "--output", str(tmp_path), "--experiment", "ddp"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = _rows(tmp_path / "ddp" / "summary.csv")
    assert float(row["train_loss"]) > 0 and (tmp_path / "ddp" / "last.pth").exists()


@pytest.mark.distributed
def test_fsdp_trains_like_ddp_and_resumes_exactly(tmp_path):
    """--fsdp (FSDP2 over two CPU processes) with EMA, drop path and clipping: the weights equal a DDP run's
    to float rounding; killed mid-epoch and resumed, they are bit-identical to the uninterrupted FSDP run
    (every rank's RNG is saved); its checkpoints hold plain full weights that load without FSDP."""
    sharded = [*TINY, "--batch-size", "32", "--clip-grad", "1.0", "--output", str(tmp_path)]
    torchrun("train.py", *sharded, "--experiment", "ddp")
    torchrun("train.py", *sharded, "--fsdp", "--experiment", "fsdp")
    killed = torchrun("train.py", *sharded, "--fsdp", "--experiment", "killed", "--recovery-interval", "5",
                      "--kill-after-steps", "29", check=False)
    assert killed.returncode != 0
    recovery = torch.load(tmp_path / "killed" / "recovery.pth", weights_only=True)
    assert (recovery["epoch"], recovery["step"], recovery["num_updates"]) == (1, 3, 25)
    assert len(recovery["rng"]) == 2 and not torch.equal(recovery["rng"][0]["torch"], recovery["rng"][1]["torch"])
    torchrun("train.py", *sharded, "--fsdp", "--experiment", "killed", "--recovery-interval", "5", "--resume", "auto")

    ddp, fsdp, resumed = (torch.load(tmp_path / e / "last.pth", weights_only=True) for e in ("ddp", "fsdp", "killed"))
    for key in ("model", "model_ema"):
        assert fsdp[key].keys() == ddp[key].keys()
        for name, value in ddp[key].items():
            assert type(fsdp[key][name]) is torch.Tensor, f"{key}.{name} is not a plain tensor"
            torch.testing.assert_close(fsdp[key][name], value, rtol=1e-5, atol=1e-6, msg=f"{key}.{name}: FSDP vs DDP")
            assert torch.equal(fsdp[key][name], resumed[key][name]), f"{key}.{name} differs after resume"
    assert _timing_free(_rows(tmp_path / "fsdp" / "summary.csv")) == \
        _timing_free(_rows(tmp_path / "killed" / "summary.csv"))

    best = torch.load(tmp_path / "fsdp" / "model_best.pth", weights_only=True)
    model = timm.create_model("vmamba_tiny", depths=[1, 1, 1, 1], dims=8, num_classes=10)
    model.load_state_dict(best["model"])  # strict: full, unsharded names and shapes
    unsharded = run(*sharded, "--experiment", "fsdp", "--epochs", "3", "--resume", "auto", check=False)
    assert unsharded.returncode != 0 and "written by an --fsdp run" in unsharded.stderr


def test_summary_rows_of_rerun_epochs_are_dropped(tmp_path):
    """A run killed after logging epoch e but before last.pth resumes inside e: e's row must not appear twice."""
    from vimvision.engine.summary import keep_summary_before

    summary = tmp_path / "summary.csv"
    summary.write_text("epoch,train_loss\n0,2.0\n1,1.5\n2,1.2\n")
    keep_summary_before(summary, 2)
    assert [r["epoch"] for r in _rows(summary)] == ["0", "1"]
    keep_summary_before(summary, 0)
    assert not summary.exists()


def test_fewer_model_classes_than_folders_is_named(tmp_path):
    for split in ("train", "val"):
        for name in ("a", "b", "c"):
            (tmp_path / "data" / split / name).mkdir(parents=True)
            Image.new("RGB", (32, 32)).save(tmp_path / "data" / split / name / "0.png")
    result = run("--data-dir", str(tmp_path / "data"), "--model", "vmamba_tiny", "--model-kwargs", "depths=[1,1,1,1]",
                 "dims=8", "--num-classes", "2", "--output", str(tmp_path / "out"), check=False)
    assert result.returncode != 0
    assert "--num-classes 2 is smaller than the 3 classes of" in result.stderr, result.stderr[-2000:]


def test_readme_demo_runs(tmp_path):
    """The README's main job end to end, one epoch per model: both recipes train and are reported."""
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "demo.py"), "--epochs", "1", "--output",
                             str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "vim_tiny     test top-1" in result.stdout and "vmamba_tiny  test top-1" in result.stdout


def test_torchcompile_trains_like_eager(tmp_path):
    """--torchcompile compiles each residual block (vimvision.compile_blocks); without drop-path (Inductor draws
    its own random numbers) the compiled run's weights follow the eager run's."""
    same = [*TINY, "--epochs", "1", "--drop-path", "0", "--output", str(tmp_path)]
    run(*same, "--experiment", "eager")
    run(*same, "--experiment", "compiled", "--torchcompile")
    eager = torch.load(tmp_path / "eager" / "last.pth", weights_only=True)["model"]
    compiled = torch.load(tmp_path / "compiled" / "last.pth", weights_only=True)["model"]
    assert eager.keys() == compiled.keys()
    for name, value in eager.items():
        torch.testing.assert_close(compiled[name], value, rtol=1e-3, atol=1e-4, msg=lambda m, k=name: f"{k}: {m}")
