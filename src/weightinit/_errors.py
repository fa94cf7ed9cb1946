"""Helpers that build error messages which name the bad value and the valid choices."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(value: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(value.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not match:
        return ""
    for choice in choices:
        if choice.lower() == match[0]:
            return f" Did you mean {choice!r}?"
    return ""  # pragma: no cover - the match always comes from choices


def choice_error(
    what: str, value: object, choices: Iterable[str], aliases: Iterable[str] = ()
) -> ValueError:
    """A ``ValueError`` for a name that is not one of ``choices`` (nor of ``aliases``)."""
    choices = tuple(choices)
    listed = ", ".join(repr(c) for c in choices)
    hint = suggest(value, (*choices, *aliases)) if isinstance(value, str) else ""
    return ValueError(f"{what} must be one of {listed}; got {value!r}.{hint}")


def resolve_name(what: str, value: object, table: dict[str, str], choices: Iterable[str]) -> str:
    """Map a case-insensitive name or alias through ``table`` to its canonical name."""
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_")
        if key in table:
            return table[key]
    raise choice_error(what, value, choices, table)
