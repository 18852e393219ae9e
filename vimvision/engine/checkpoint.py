"""Training checkpoints that are atomic, complete (model, EMA, optimizer, scheduler, scaler, RNG states,
position inside the epoch), verified on reading, and safe: nothing in them can run code when loaded."""
from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

# What our trainers write, beyond tensors and plain containers and numbers: nothing. Resuming loads with
# weights_only=True and this (empty) allow-list, so a planted or tampered checkpoint cannot run code.
TRAINING_SAFE_GLOBALS: list = []


def rng_state() -> dict:
    """Every RNG the loop draws from, as tensors and plain numbers (so it loads with weights_only=True)."""
    py_version, py_state, py_gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    state = {
        "python": [py_version, torch.tensor(py_state, dtype=torch.int64), py_gauss],
        "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    py_version, py_state, py_gauss = state["python"]
    random.setstate((py_version, tuple(py_state.tolist()), py_gauss))
    np_state = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937", "has_gauss": np_state["has_gauss"], "gauss": np_state["gauss"],
                         "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]}})
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def plain(value):
    """Options and metrics as plain Python values (paths and numpy scalars to str/float), so the files we
    write hold nothing that weights_only=True refuses."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def save_atomic(obj: dict, path: Path) -> None:
    """Write to a temporary file in the same folder, then rename: a kill never leaves a torn file, and a
    failed write (a full disk) removes its temporary file and names the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, f"cannot write checkpoint {str(path)!r}: {e.strerror or e}") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path) -> None:
    """Temporary files left by a process killed mid-save (save_atomic's names) are never complete: delete them."""
    for tmp in Path(folder).glob(".*.pth.tmp*"):
        tmp.unlink(missing_ok=True)


def load_training_checkpoint(path: Path, mmap: bool = False) -> dict:
    """Read a checkpoint our trainers wrote: integrity first (the zip records' CRC-32s catch a flipped or
    truncated byte), then weights_only=True with TRAINING_SAFE_GLOBALS, so no file can run code.
    Raises ValueError naming the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--resume: checkpoint {str(path)!r} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"--resume: checkpoint {str(path)!r} is not a complete checkpoint ({e})") from None
    if bad is not None:
        raise ValueError(f"--resume: checkpoint {str(path)!r} is corrupt (record {bad!r} fails its CRC-32 check)")
    try:
        with torch.serialization.safe_globals(TRAINING_SAFE_GLOBALS):
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        lines = [line for line in str(e).splitlines() if "GLOBAL" in line] or [type(e).__name__]
        raise ValueError(f"--resume: checkpoint {str(path)!r} holds objects a training checkpoint never holds, "
                         f"refused without running them ({lines[0].strip()})") from None
    if not isinstance(ckpt, dict) or "num_updates" not in ckpt or "model" not in ckpt:
        raise ValueError(f"--resume: {str(path)!r} is not a vimvision training checkpoint "
                         "(expected a dict with 'model', 'optimizer', 'num_updates', ...)")
    return ckpt
