"""Validators whose errors name the bad value, the valid choices and the closest match.

This module is the floor under everything, the engine included: it imports nothing from the
package.
"""

from __future__ import annotations

import difflib
import functools
import math
import numbers
import operator
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import TypeVar

import numpy as np
import numpy.typing as npt

F = TypeVar("F", bound=Callable[..., Any])


def normalise_name(name: str) -> str:
    """The lookup form of a user-typed name: case, spaces and hyphens do not matter."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def real(name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as a finite float (positive if asked), or a ``TypeError``/``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number; got {value!r} of type {type(value).__name__}."
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or (positive and not number > 0.0):
        kind = "positive and finite" if positive else "finite"
        raise ValueError(f"{name} must be {kind}; got {value!r}.")
    return number


def integer(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]``, or a ``TypeError``/``ValueError``.

    Python and NumPy integers (anything with ``__index__``) count; ``bool`` does not.

    >>> integer("groups", 2, minimum=1)
    2
    >>> integer("groups", 0, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: groups must be >= 1; got 0.
    """
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer; got {value!r} of type {type(value).__name__}.")
    number = int(operator.index(value))
    low = minimum is None or number >= minimum
    high = maximum is None or number <= maximum
    if not (low and high):
        if maximum is None:
            bounds = f">= {minimum}"
        else:
            power = (maximum + 1).bit_length() - 1
            top = f"below 2**{power}" if maximum + 1 == 2**power > 2**31 else f"<= {maximum}"
            bounds = top if minimum is None else f">= {minimum} and {top}"
        raise ValueError(f"{name} must be {bounds}; got {number}.")
    return number


#: The largest size of an axis, a shape or a count the package accepts (NumPy indexes with
#: signed 64-bit integers; products of two sizes must not overflow them).
SIZE_LIMIT = 2**62


def suggest(value: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(value.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not match:
        return ""
    for choice in choices:
        if choice.lower() == match[0]:
            return f" Did you mean {choice!r}?"
    return ""  # pragma: no cover - the match always comes from choices


def closest(value: str, choices: Iterable[str], n: int = 4) -> list[str]:
    """Up to ``n`` of ``choices`` closest to ``value``: those it begins (shortest first), then
    the most similar by :func:`difflib.get_close_matches`."""
    key = normalise_name(value)
    pool = list(dict.fromkeys(choices))
    found = sorted((c for c in pool if normalise_name(c).startswith(key) and key), key=len)
    similar = difflib.get_close_matches(key, [normalise_name(c) for c in pool], n=n, cutoff=0.5)
    by_key = {normalise_name(c): c for c in pool}
    found += [by_key[k] for k in similar]
    return list(dict.fromkeys(found))[:n]


def unknown_name(what: str, value: object, choices: Iterable[str], listing: str) -> ValueError:
    """A short ``ValueError`` for an unknown name among many: the closest few, then where the
    whole list is (``listing``), instead of every name."""
    if not isinstance(value, str):
        return ValueError(f"{what} must be a string; got {value!r} of type {type(value).__name__}.")
    near = closest(value, choices)
    hint = f" The closest are {', '.join(map(repr, near))}." if near else ""
    return ValueError(f"unknown {what} {value!r}.{hint} {listing}")


def shape_hint(factory: F) -> F:
    """Wrap an initializer factory so that passing it a shape says where the shape goes.

    ``he_normal((784, 256))`` is a common slip for ``he_normal()((784, 256))``: the factory
    makes an initializer and the shape goes to the call.
    """

    @functools.wraps(factory)
    def make(*args: Any, **kwargs: Any) -> Any:
        try:
            return factory(*args, **kwargs)
        except TypeError:
            shapes = [a for a in (*args, *kwargs.values()) if _looks_like_shape(a)]
            if not shapes:
                raise
            name = factory.__name__
            raise TypeError(
                f"{name}() makes an initializer; the shape goes to the call: "
                f"{name}()({shapes[0]!r}), not {name}({shapes[0]!r})."
            ) from None

    return make  # type: ignore[return-value]


def _looks_like_shape(value: object) -> bool:
    return (
        isinstance(value, (tuple, list))
        and len(value) > 0
        and all(hasattr(v, "__index__") and not isinstance(v, bool) for v in value)
    )


def install_hint(extra: str) -> str:
    """How to install an optional extra, quoted for every shell, from PyPI or a checkout."""
    return f'pip install "weightinit[{extra}]" (from a checkout: pip install ".[{extra}]")'


def choice_error(
    what: str, value: object, choices: Iterable[str], aliases: Iterable[str] = ()
) -> ValueError:
    """A ``ValueError`` for a name that is not one of ``choices`` (nor of ``aliases``)."""
    choices, aliases = tuple(choices), tuple(a for a in aliases if a not in choices)
    listed = ", ".join(repr(c) for c in choices)
    hint = suggest(value, (*choices, *aliases)) if isinstance(value, str) else ""
    return ValueError(f"{what} must be one of {listed}; got {value!r}.{hint}")


def resolve_name(what: str, value: object, table: dict[str, str], choices: Iterable[str]) -> str:
    """Map a case-insensitive name or alias through ``table`` to its canonical name."""
    if isinstance(value, str):
        key = normalise_name(value)
        if key in table:
            return table[key]
    raise choice_error(what, value, choices, table)


#: The output dtypes, in the order error messages list them.
DTYPES = ("float16", "float32", "float64")


def check_dtype(dtype: npt.DTypeLike) -> np.dtype[np.floating[Any]]:
    """Return ``np.dtype(dtype)`` if it is float16, float32 or float64 (``None``: float32);
    else a ``TypeError`` that lists them."""
    if dtype is None:
        return np.dtype(np.float32)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}.") from None
    if resolved.kind != "f" or resolved.name not in DTYPES:
        raise TypeError(f"dtype must be one of {', '.join(DTYPES)}; got {resolved.name!r}.")
    return resolved  # type: ignore[return-value]


def check_threads(threads: object) -> int | None:
    """Validate ``threads``: ``None`` or an integer >= 1."""
    if threads is None:
        return None
    return integer("threads", threads, minimum=1)
