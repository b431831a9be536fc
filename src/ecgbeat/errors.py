"""The one exception type for bad user input (its message is a single line for the CLI), and the
few argument checks every layer shares."""

from __future__ import annotations

import math
import numbers


class EcgbeatError(ValueError):
    """Bad input or a missing resource, with a one-line message naming the file and the problem."""


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__


def is_whole(value) -> bool:
    """An integer (Python's or NumPy's), not a bool: what counts, sizes and indices must be."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """A real number (Python's or NumPy's), not a bool (``float(True)`` is 1.0, but True is no number)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_real(value) -> bool:
    """A finite real number (:func:`is_real`, neither NaN nor infinite)."""
    return is_real(value) and math.isfinite(value)


#: Seeds scikit-learn, NumPy and PyTorch all take: 0 <= seed < 2**32.
SEED_LIMIT = 2**32


def check_seed(seed, name: str = "--seed") -> int:
    """``seed`` when it is a whole number in [0, 2**32) (what every random generator used here
    takes), else an :class:`EcgbeatError` naming ``name``."""
    if not is_whole(seed) or not 0 <= seed < SEED_LIMIT:
        raise EcgbeatError(f"{name} must be a whole number from 0 to {SEED_LIMIT - 1}, got {seed!r}")
    return int(seed)
