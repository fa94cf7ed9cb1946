"""The user's rules for a PyTorch model's plan: what each may say, and which parameter each
reaches (patterns on every name of a tied parameter, then module classes; dicts by leaf)."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from weightinit import registry
from weightinit._fans import Weight

__all__ = ["KEEP", "Rule", "Rules", "suggestion"]

#: A rule that leaves a parameter's current value (refused on the meta device).
KEEP = "keep"


@dataclass(frozen=True)
class Rule:
    """What a rule may say of a parameter without fixing its shape: an initializer (``None``:
    the scheme's) and any of the layout, groups and stacked blocks its fans are read with
    (``None``: the module table's).

    Examples
    --------
    >>> import weightinit as wi
    >>> from weightinit.torch import Rule
    >>> Rule("lecun_normal", layout="in_out").layout
    'in_out'
    """

    init: object = None
    layout: str | None = None
    groups: int | None = None
    blocks: int | None = None

    def __post_init__(self) -> None:
        if self.init is not None:
            object.__setattr__(self, "init", registry.get(self.init))
        checked = Weight.checked(
            (),
            "out_in" if self.layout is None else self.layout,
            1 if self.groups is None else self.groups,
            1 if self.blocks is None else self.blocks,
        )
        if self.layout is not None:
            object.__setattr__(self, "layout", checked.layout)


class Rules:
    """The user's rules, each remembered once it matched a parameter."""

    def __init__(self, rules: Mapping[object, object] | None) -> None:
        if rules is not None and not isinstance(rules, Mapping):
            raise TypeError(f"rules must be a mapping; got {type(rules).__name__}.")
        self.items = list((rules or {}).items())
        for key, _ in self.items:
            if not isinstance(key, (str, type)):
                raise TypeError(
                    f"a rule's key must be a glob pattern (str) or a module class; got {key!r}."
                )
        self.used: set[int] = set()
        #: The leaves each dict rule was asked about.
        self.leaves: dict[int, set[str]] = {}
        #: Vectors a class's rule could not fill, left to the scheme.
        self.skipped: list[str] = []

    def by_class(self, index: int) -> bool:
        """Whether rule ``index`` is keyed by a module class."""
        return isinstance(self.items[index][0], type)

    def find(self, names: list[str], owners: list[Any], leaf: str) -> tuple[int, object] | None:
        """The first pattern matching one of ``names`` (a tied parameter's every name), else
        the first class the parameter's module (``owners[0]``, or the layer a
        parametrisation belongs to) is an instance of. A rule that is a dict by leaf answers
        only for its leaves; for another leaf the search goes on."""
        for i, (key, value) in enumerate(self.items):
            if isinstance(key, str) and any(fnmatch.fnmatchcase(n, key) for n in names):
                answer = self._answer(i, value, leaf)
                if answer is not None:
                    return answer
        # A class rule looks at the parameter's own module, not at the modules it is tied
        # into (a rule for nn.Linear does not reach an embedding tied to a Linear head).
        for i, (key, value) in enumerate(self.items):
            if isinstance(key, type) and isinstance(owners[0], key):
                answer = self._answer(i, value, leaf)
                if answer is not None:
                    return answer
        return None

    def _answer(self, index: int, value: object, leaf: str) -> tuple[int, object] | None:
        if isinstance(value, Mapping):
            self.leaves.setdefault(index, set()).add(leaf)
            if leaf not in value:
                return None
            value = value[leaf]
        self.used.add(index)
        return index, value

    def unknown_leaves(self) -> list[str]:
        """A line per dict rule's leaf that no parameter it reached has."""
        lines = []
        for i, (key, value) in enumerate(self.items):
            if isinstance(value, Mapping) and i in self.leaves:
                seen = self.leaves[i]
                for leaf in value:
                    if leaf not in seen:
                        close = difflib.get_close_matches(str(leaf), sorted(seen), n=3, cutoff=0.0)
                        label = key if isinstance(key, str) else getattr(key, "__name__", repr(key))
                        lines.append(
                            f"rule {label!r} names leaf {leaf!r}, which none of the parameters "
                            f"it reaches has; they have {', '.join(map(repr, close))}."
                        )
        return lines

    def unused(self, names: list[str], kinds: set[str]) -> list[str]:
        """A line per rule that matched nothing, with the closest names."""
        lines = []
        for i, (key, _) in enumerate(self.items):
            if i in self.used or i in self.leaves:
                continue
            if isinstance(key, str):
                close = difflib.get_close_matches(key, names, n=3, cutoff=0.0)
                lines.append(
                    f"rule {key!r} matches no parameter; the closest names are "
                    f"{', '.join(map(repr, close))}."
                )
            elif isinstance(key, type):
                close = difflib.get_close_matches(key.__name__, sorted(kinds), n=3, cutoff=0.0)
                lines.append(
                    f"rule {key.__name__} matches no module with a parameter; the model's "
                    f"closest module types are {', '.join(close)}."
                )
        return lines


def suggestion(kind: str, ranks: dict[str, int]) -> str:
    """A rule that fits an unknown module type's parameters, one entry per leaf: for a
    matrix or kernel, an initializer with the layout stated (the table cannot know which
    axis is the input); for a vector, its starting value."""
    entries = []
    for leaf, rank in sorted(ranks.items()):
        if rank >= 2:
            entries.append(
                f"'{leaf}': weightinit.torch.Rule(weightinit.lecun_normal(), layout=...)"
            )
        else:
            entries.append(f"'{leaf}': weightinit.zeros() or weightinit.ones()")
    return (
        f"rules={{{kind}: {{{', '.join(entries)}}}}}, with the layout each weight is stored in "
        "and the value each vector starts at (ones for a gain, zeros for a bias)"
    )
