"""Parameter checks that name the parameter and what is allowed.

Used by the library and by every notebook's parameters cell, so that a bad value passed with
``papermill -p name value`` stops the run at once with a message a reader can act on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any

__all__ = [
    "ParameterError",
    "check_positive_int",
    "check_nonnegative_int",
    "check_positive",
    "check_in_open_interval",
    "check_choice",
    "check_bool",
    "check_c_range",
    "check_value_range",
    "check_int_list",
    "check_float_list",
]


class ParameterError(ValueError):
    """A parameter has a value outside what is allowed."""


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ParameterError(f"parameter {name!r} must be {allowed}; got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def check_positive_int(name: str, value: Any) -> int:
    if not _is_int(value) or value < 1:
        _fail(name, value, "a positive integer")
    return int(value)


def check_nonnegative_int(name: str, value: Any) -> int:
    if not _is_int(value) or value < 0:
        _fail(name, value, "an integer >= 0")
    return int(value)


def check_positive(name: str, value: Any) -> float:
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        _fail(name, value, "a finite number > 0")
    return float(value)


def check_in_open_interval(name: str, value: Any, low: float, high: float) -> float:
    if not _is_real(value) or not (low < value < high):
        _fail(name, value, f"a number strictly between {low} and {high}")
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = list(choices)
    if value not in choices:
        _fail(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value


def check_bool(name: str, value: Any) -> bool:
    """``True`` or ``False`` only: papermill passes ``-p flag 1`` through as the int 1, which is no flag."""
    if not isinstance(value, bool):
        _fail(name, value, "True or False")
    return value


def check_c_range(c_min: Any, c_max: Any) -> tuple[float, float]:
    """The L-BFGS attack's search interval for its weight ``c``: two finite numbers with 0 < c_min < c_max."""
    low, high = check_positive("c_min", c_min), check_positive("c_max", c_max)
    if not low < high:
        raise ParameterError(f"parameter 'c_min' must be smaller than 'c_max'; got c_min={c_min!r}, c_max={c_max!r}")
    return low, high


def check_value_range(name: str, value: Any) -> tuple[float, float]:
    """An input box ``value_range = (lo, hi)``, the same bounds for every coordinate: two finite numbers with
    ``lo < hi``. Returns them as floats."""
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ParameterError(f"parameter '{name}' must be a pair (lo, hi) of finite numbers, got {value!r}") from None
    if not (_is_real(lo) and _is_real(hi) and math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ParameterError(
            f"parameter '{name}' must be a pair (lo, hi) of finite numbers with lo < hi, got {value!r}"
        )
    return float(lo), float(hi)


def check_int_list(name: str, value: Any, minimum: int = 1) -> list[int]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) == 0:
        _fail(name, value, f"a non-empty list of integers >= {minimum}")
    if not all(_is_int(v) and v >= minimum for v in value):
        _fail(name, value, f"a non-empty list of integers >= {minimum}")
    return [int(v) for v in value]


def check_float_list(name: str, value: Any, low: float = 0.0, high: float = math.inf) -> list[float]:
    ok = isinstance(value, Sequence) and not isinstance(value, str) and len(value) > 0
    ok = ok and all(_is_real(v) and low < v < high for v in value)
    if not ok:
        _fail(name, value, f"a non-empty list of numbers strictly between {low} and {high}")
    return [float(v) for v in value]
