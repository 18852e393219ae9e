"""Constructor argument checks with one message shape: '<owner>: <name> has <value>, expected <what>'.

A depth, width or state size of 0, a stride of 0 or a negative drop rate would otherwise build a model
that fails later with a shape error, or silently computes something else."""
from __future__ import annotations

from typing import Any, Sequence


def check_int(owner: str, minimum: int = 1, **values: Any) -> None:
    """Each value an integer (not a bool) of at least `minimum`."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise ValueError(f"{owner}: {name} has {value!r}, expected {what}")


def check_rate(owner: str, **values: Any) -> None:
    """Each value a probability in [0, 1): dropout and drop-path rates."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"{owner}: {name} has {value!r}, expected a rate in [0, 1)")


def check_choice(owner: str, name: str, value: Any, allowed: Sequence[Any]) -> Any:
    if value not in allowed:
        raise ValueError(f"{owner}: {name} has {value!r}, expected one of {tuple(allowed)}")
    return value
