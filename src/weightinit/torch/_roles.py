"""A parameter's role and place in a PyTorch model: the module table's slot, placed by the
model's structure, and corrected by the user's ``roles=``; and the checks that a scheme
found what it acts on."""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from weightinit._errors import choice_error
from weightinit._fans import Weight
from weightinit._planning import promoted
from weightinit.roles import ROLES
from weightinit.roles import Place
from weightinit.roles import Slot
from weightinit.torch._modules import constant_value
from weightinit.torch._structure import Structure

__all__ = ["RoleRules", "placed", "unscaled_blocks"]

_PLACE_FIELDS = tuple(f.name for f in dataclasses.fields(Place))
_FIELDS = ("role", "layout", *_PLACE_FIELDS)


def placed(
    found: Structure,
    slot: Slot,
    path: str,
    leaf: str,
    modules: dict[str, Any],
    name: str,
) -> Slot:
    """``slot`` with its place, name and the model's facts; the model's output layer's weight
    becomes a ``head``."""
    place = found.place(path, leaf, modules)
    role = slot.role
    if role == "projection" and path in found.heads and leaf == "weight":
        role = "head"
    return dataclasses.replace(slot, role=role, place=place, name=name, model=found.facts)


class RoleRules:
    """The user's ``roles=``: glob patterns on parameter names, each mapped to a role or to a
    mapping of a role, a layout and :class:`~weightinit.roles.Place` fields."""

    def __init__(self, roles: Mapping[str, object] | None) -> None:
        if roles is not None and not isinstance(roles, Mapping):
            raise TypeError(f"roles must be a mapping; got {type(roles).__name__}.")
        self.items: list[tuple[str, dict[str, object]]] = []
        for key, value in (roles or {}).items():
            if not isinstance(key, str):
                raise TypeError(f"a key of roles= must be a glob pattern (str); got {key!r}.")
            fields = {"role": value} if isinstance(value, str) else value
            if not isinstance(fields, Mapping):
                raise TypeError(
                    f"roles[{key!r}] must be a role name or a mapping of {', '.join(_FIELDS)}; "
                    f"got {value!r}."
                )
            for field in fields:
                if field not in _FIELDS:
                    raise choice_error(f"a field of roles[{key!r}]", field, _FIELDS)
            if "role" in fields and fields["role"] not in ROLES:
                raise choice_error(f"roles[{key!r}]", fields["role"], tuple(ROLES))
            if "layout" in fields:
                Weight.checked((), fields["layout"], 1, 1)  # a known layout, checked now
            place = {k: v for k, v in fields.items() if k in _PLACE_FIELDS}
            Place(**place)  # checks the values now
            self.items.append((key, dict(fields)))
        self.used: set[int] = set()
        #: The parameters a pattern gave a role or a part.
        self.said: set[str] = set()

    def apply(
        self,
        names: list[str],
        slot: Slot | None,
        shape: tuple[int, ...],
        owner: Any,
        tensor: Any,
        locate: Callable[[Slot], Slot],
    ) -> Slot | None:
        """``slot`` as the first pattern matching one of ``names`` corrects it; a parameter
        the table does not know gets a slot from a pattern that names its role (and, for a
        weight of two or more axes, its layout), placed by ``locate`` (its block)."""
        for index, (pattern, fields) in enumerate(self.items):
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                continue
            self.used.add(index)
            if "role" in fields or "part" in fields:
                self.said.add(names[0])
            if slot is None:
                role = fields.get("role")
                if role is None:
                    raise ValueError(
                        f"roles[{pattern!r}] reaches a parameter of a module type weightinit.torch "
                        "does not know; say its role"
                    )
                layout = fields.get("layout")
                if len(shape) >= 2 and layout is None:
                    raise ValueError(
                        f"roles[{pattern!r}] reaches a weight of a module type weightinit.torch "
                        "does not know; say its layout too ({'role': ..., 'layout': 'out_in'})"
                    )
                value = constant_value(owner, tensor)
                slot = locate(
                    Slot(str(role), Weight.checked(shape, layout or "in_out", 1, 1), value=value)
                )
            changes: dict[str, Any] = {}
            if "role" in fields:
                changes["role"] = fields["role"]
            if "layout" in fields:
                w = slot.weight
                changes["weight"] = Weight.checked(w.shape, fields["layout"], w.groups, w.blocks)
            place = {k: v for k, v in fields.items() if k in _PLACE_FIELDS}
            if place:
                changes["place"] = dataclasses.replace(slot.place, **place)  # type: ignore[arg-type]
            changed = dataclasses.replace(slot, **changes)
            return changed if "role" in fields else promoted(changed)
        return slot if slot is None else promoted(slot)

    def unused(self, names: list[str]) -> list[str]:
        """A line per pattern that matched no parameter, with the closest names."""
        lines = []
        for index, (pattern, _) in enumerate(self.items):
            if index not in self.used:
                close = difflib.get_close_matches(pattern, names, n=3, cutoff=0.0)
                lines.append(
                    f"roles[{pattern!r}] matches no parameter; the closest names are "
                    f"{', '.join(map(repr, close))}."
                )
        return lines


def unscaled_blocks(name: str, found: Structure, result: Any, said: set[str]) -> list[str]:
    """Where a scheme scales residual projections, a line per kind of block whose dense
    layers the architecture table cannot place (and ``roles=`` did not), or one if the model
    has no residual projection at all: each would be drawn unscaled without a word."""
    troubles: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for block in sorted({*found.incomplete, *found.unknown}, key=list(found.blocks).index):
        missing = found.incomplete.get(block, ([], []))[0]
        roles = {
            (s.role, s.place.part) for n, s in result.slots.items() if n.startswith(f"{block}.")
        }
        absent = tuple(
            part
            for part in missing
            if ("residual_projection", part) not in roles
            and ("residual_projection", None) not in roles
        )
        unsaid = tuple(r for r in found.unknown.get(block, ()) if f"{block}.{r}.weight" not in said)
        if absent or unsaid:
            troubles.setdefault((absent, unsaid), []).append(block)
    lines = []
    for (absent, unsaid), blocks in troubles.items():
        listed = ", ".join(map(repr, blocks[:3])) + (
            f" and {len(blocks) - 3} more" if len(blocks) > 3 else ""
        )
        what = [f"no {' and no '.join(absent)} projection the architecture table knows"] * bool(
            absent
        )
        what += [f"dense layers of no known part ({', '.join(map(repr, unsaid))})"] * bool(unsaid)
        example = f"*.{unsaid[0]}.weight" if unsaid else "*.<name>.weight"
        lines.append(
            f"blocks {listed} have {' and '.join(what)}, and scheme {name!r} scales the "
            "projections that write into the residual stream; say what each is with roles=: "
            f"{{{example!r}: {{'role': 'residual_projection', 'part': 'down'}}}} (or part "
            "'attn_out') for a layer whose output is added to the stream, {'role': "
            "'projection', 'part': 'fc_in'} (or q, k, v, gate, up) for one that reads it."
        )
    if not any(s.role == "residual_projection" for s in result.slots.values()) and not lines:
        lines.append(
            f"scheme {name!r} scales the projections that write into the residual stream, and "
            "this model has none the architecture table knows (no residual blocks, or blocks "
            "of a class not named ...Block, ...Layer or ...Bottleneck); say which they are "
            "with roles= ({'<name>.weight': {'role': 'residual_projection', 'depth': L, "
            "'layer': l}})."
        )
    return lines
