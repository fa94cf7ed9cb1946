"""A parameter's role and place in a PyTorch model: the module table's slot, placed by the
model's structure, and corrected by the user's ``roles=``; and the checks that a scheme
found what it acts on."""

from __future__ import annotations

import dataclasses
from typing import Any

from weightinit.roles import Slot
from weightinit.torch._structure import Structure

__all__ = ["placed", "unscaled_blocks"]


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
