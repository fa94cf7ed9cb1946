"""A whole model's plan from its parameters' paths: the framework-neutral half of
``weightinit.jax.initialize`` and ``weightinit.keras.initialize``.

A framework's adapter lists the model's parameters as :class:`Leaf` records: each one's
canonical name (module path and leaf, joined by dots: ``blocks.0.attn.query.weight``), its
path in the framework, its module's kind and, where the kind is known, its
:class:`~weightinit.roles.Slot`. :func:`plan` places every slot among the model's residual
blocks by its path (:class:`PathStructure`), corrects it by the user's ``roles=``, asks the
scheme, applies the user's ``rules=`` and returns a :class:`ModelPlan`, or raises one error
that lists every problem.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import math
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from weightinit import registry
from weightinit._errors import choice_error
from weightinit._fans import Weight
from weightinit._places import Leaf
from weightinit._places import PathStructure
from weightinit._recommend import recommend
from weightinit.model import Param
from weightinit.roles import ROLES
from weightinit.roles import Place
from weightinit.roles import Slot
from weightinit.schemes import UnknownValueError
from weightinit.schemes import scheme as resolve_scheme

__all__ = [
    "Leaf",
    "ModelPlan",
    "RoleRules",
    "idle_schemes",
    "plan",
    "promoted",
    "refusals",
    "row",
]

_PLACE_FIELDS = tuple(f.name for f in dataclasses.fields(Place))


def promoted(slot: Slot) -> Slot:
    """A dense weight whose part writes into the residual stream (attention's output, the
    MLP's down projection) as a ``residual_projection``."""
    if slot.role == "projection" and slot.place.part in ("attn_out", "down"):
        return dataclasses.replace(slot, role="residual_projection")
    return slot


def refusals(refused: Mapping[str, list[tuple[str, str, int]]]) -> list[str]:
    """A line per reason a scheme refused parameters (``refused``: the reason -> the name,
    what it is and its rank, of each), naming the first and the rule to give it."""
    lines = []
    for text, where in refused.items():
        name, what, rank = where[0]
        hint = "weightinit.constant(...)" if rank < 2 else "an initializer"
        more = f" (and {len(where) - 1} more parameters)" if len(where) > 1 else ""
        lines.append(
            f"parameter {name!r} ({what}){more}: {text}; give it a rule "
            f"(rules={{{name!r}: {hint}}})."
        )
    return lines


def idle_schemes(composed: tuple[Any, ...], used: set[str]) -> list[str]:
    """A line per scheme composed on the base that gave no parameter anything (``used``:
    the names of the schemes that did)."""
    return [
        f"scheme {layer.name!r} changes nothing in this model: it acts on "
        f"{layer.acts_on or 'roles this model does not have'}, and no parameter is one "
        "(say which are with roles=)."
        for layer in composed[1:]
        if layer.name not in used
    ]


class RoleRules:
    """The user's ``roles=``: glob patterns on parameter names, each mapped to a role or to a
    mapping of a role, the fields of a weight's geometry (``layout``, and where the bridge
    takes them ``in_axis``, ``out_axis`` and ``groups``) and :class:`~weightinit.roles.Place`
    fields.

    ``framework`` names the bridge in errors, ``layout`` is the layout its example shows, and
    ``geometry`` the geometry fields it takes."""

    def __init__(
        self,
        roles: Mapping[str, object] | None,
        *,
        framework: str,
        layout: str = "in_out",
        geometry: tuple[str, ...] = ("layout", "in_axis", "out_axis", "groups"),
    ) -> None:
        if roles is not None and not isinstance(roles, Mapping):
            raise TypeError(f"roles must be a mapping; got {type(roles).__name__}.")
        self.framework = framework
        self.layout = layout
        self.geometry_fields = frozenset(geometry)
        accepted = ("role", *geometry, *_PLACE_FIELDS)
        self.items: list[tuple[str, dict[str, object]]] = []
        for key, value in (roles or {}).items():
            if not isinstance(key, str):
                raise TypeError(f"a key of roles= must be a glob pattern (str); got {key!r}.")
            fields = {"role": value} if isinstance(value, str) else value
            if not isinstance(fields, Mapping):
                raise TypeError(
                    f"roles[{key!r}] must be a role name or a mapping of "
                    f"{', '.join(accepted)}; got {value!r}."
                )
            for name in fields:
                if name not in accepted:
                    raise choice_error(f"a field of roles[{key!r}]", name, accepted)
            if "role" in fields and fields["role"] not in ROLES:
                raise choice_error(f"roles[{key!r}]", fields["role"], tuple(ROLES))
            if "layout" in fields or "groups" in fields:  # a known layout, checked now
                Weight.checked((), fields.get("layout", "in_out"), fields.get("groups", 1), 1)
            Place(**{k: v for k, v in fields.items() if k in _PLACE_FIELDS})
            self.items.append((key, dict(fields)))
        self.used: set[int] = set()
        #: The parameters a pattern gave a role or a part.
        self.said: set[str] = set()

    def geometry(self, fields: Mapping[str, object], weight: Weight) -> Weight:
        """``weight`` with the layout, axes and groups ``fields`` say."""
        layout = fields.get("layout", weight.layout)
        groups = fields.get("groups", weight.groups)
        axes = {k: fields[k] for k in ("in_axis", "out_axis") if k in fields}
        return Weight.checked(weight.shape, layout, groups, weight.blocks, **axes)

    def apply(
        self,
        names: Sequence[str],
        slot: Slot | None,
        shape: tuple[int, ...],
        *,
        value: Callable[[], float | None] | None = None,
        locate: Callable[[Slot], Slot] | None = None,
    ) -> Slot | None:
        """``slot`` as the first pattern matching one of ``names`` corrects it; a parameter
        the bridge does not know gets a slot from a pattern that names its role and, for a
        weight of two or more axes, its layout (or axes), starting at ``value()`` and placed
        by ``locate`` (its block; without it the caller places the slot)."""
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
                        f"roles[{pattern!r}] reaches a parameter of a module type "
                        f"{self.framework} does not know; say its role"
                    )
                if len(shape) >= 2 and not {"layout", "in_axis", "out_axis"} & set(fields):
                    raise ValueError(
                        f"roles[{pattern!r}] reaches a weight of a module type {self.framework} "
                        f"does not know; say its layout too ({{'role': ..., 'layout': "
                        f"'{self.layout}'}})"
                    )
                start = None if value is None else value()
                slot = Slot(str(role), Weight.checked(shape, "in_out", 1, 1), value=start)
                if locate is not None:
                    slot = locate(slot)
            changes: dict[str, Any] = {}
            if "role" in fields:
                changes["role"] = fields["role"]
            if self.geometry_fields & set(fields):
                changes["weight"] = self.geometry(fields, slot.weight)
            place = {k: v for k, v in fields.items() if k in _PLACE_FIELDS}
            if place:
                changes["place"] = dataclasses.replace(slot.place, **place)  # type: ignore[arg-type]
            changed = dataclasses.replace(slot, **changes)
            return changed if "role" in fields else promoted(changed)
        return None if slot is None else promoted(slot)

    def unused(self, names: list[str]) -> list[str]:
        """A line per pattern that matched no parameter, with the closest names."""
        return [
            f"roles[{pattern!r}] matches no parameter; the closest names are "
            f"{', '.join(map(repr, difflib.get_close_matches(pattern, names, n=3, cutoff=0.0)))}."
            for index, (pattern, _) in enumerate(self.items)
            if index not in self.used
        ]


class ModelPlan(dict[str, Param]):
    """What a whole-model ``initialize`` gives each parameter, by canonical name, in the
    model's order; it prints as a table (name, role, block index ``l``, shape, initializer,
    the scheme's formula, layout, groups, blocks, fans and std).

    ``paths`` maps each canonical name to the framework's own path; ``slots`` holds each
    parameter's role and place, ``formulas`` what the scheme's rule says of it (``"rule"``
    for a user's rule) and ``schemes`` which scheme of a composition gave it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.paths: dict[str, str] = {}
        self.slots: dict[str, Slot] = {}
        self.formulas: dict[str, str] = {}
        self.schemes: dict[str, str] = {}

    def __str__(self) -> str:
        head = ("name", "role", "l", "shape", "initializer", "formula", "layout", "groups")
        rows: list[tuple[str, ...]] = [(*head, "blocks", "fan_in", "fan_out", "std")]
        for name, p in self.items():
            found = self.slots.get(name)
            role = found.role if found is not None else "-"
            layer = "" if found is None or found.place.layer is None else str(found.place.layer)
            rows.append(row(name, p, role, layer, self.formulas.get(name, "")))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
        return "\n".join(line.rstrip() for line in lines)


def row(name: str, p: Param, role: str, layer: str, formula: str) -> tuple[str, ...]:
    """One row of a plan's table."""
    init = registry.get(p.initializer)
    weight = p.weight
    try:
        std = f"{math.sqrt(init._recipe(weight).variance()):.4g}"
    except (AttributeError, ValueError):
        std = "-"
    try:
        fan_in, fan_out = str(weight.fans.fan_in), str(weight.fans.fan_out)
    except ValueError:
        fan_in = fan_out = "-"
    shape = "x".join(map(str, p.shape)) or "()"
    options_text = (p.layout if len(p.shape) >= 2 else "-", str(p.groups), str(p.blocks))
    return (name, role, layer, shape, repr(init), formula, *options_text, fan_in, fan_out, std)


def _rule_param(value: object, slot: Slot | None, leaf: Leaf) -> Param:
    """A user's rule as the parameter's :class:`Param`: an initializer (or its name or
    config) drawn with the slot's geometry (the leaf's shape in ``in_out`` where the adapter
    does not know it), or a :class:`Param` of the leaf's shape."""
    if isinstance(value, Param):
        if value.shape != leaf.shape:
            raise ValueError(f"the rule gives shape {value.shape}; the parameter has {leaf.shape}")
        return (
            value
            if value.dtype is not None
            else Param.of(value.initializer, value.weight, dtype=leaf.dtype)
        )
    weight = slot.weight if slot is not None else Weight.checked(leaf.shape, "in_out", 1, 1)
    checked = Param.of(registry.get(value), weight, dtype=leaf.dtype)
    registry.get(checked.initializer)._recipe(checked.weight)  # it can fill it
    return checked


def plan(
    leaves: Sequence[Leaf],
    *,
    scheme: object,
    activation: object,
    rules: Mapping[str, object] | None,
    roles: Mapping[str, object] | None,
    framework: str,
    sequential: bool = False,
) -> ModelPlan:
    """The plan of a model whose parameters are ``leaves``: every problem is collected and
    raised together as one ``ValueError`` (each unknown parameter with what ``roles=`` or
    ``rules=`` should say, each rule that matches nothing with the closest names, each
    parameter the scheme has no rule for)."""
    chosen = resolve_scheme(scheme)
    recommend(activation)  # a misspelt activation is an error under every scheme
    if rules is not None and not isinstance(rules, Mapping):
        raise TypeError(f"rules must be a mapping of glob patterns; got {type(rules).__name__}.")
    rule_items = list((rules or {}).items())
    for key, _ in rule_items:
        if not isinstance(key, str):
            raise TypeError(f"a key of rules= must be a glob pattern (str); got {key!r}.")
    corrections = RoleRules(roles, framework=framework)
    found = PathStructure.read(leaves, sequential=sequential)
    result = ModelPlan()
    problems: list[str] = []
    used_rules: set[int] = set()
    unknown: dict[str, list[Leaf]] = {}
    refused: dict[str, list[tuple[str, str, int]]] = {}
    seen: dict[str, str] = {}
    for leaf in leaves:
        names = [leaf.name, leaf.path]
        if leaf.name in seen:
            problems.append(
                f"parameters {seen[leaf.name]!r} and {leaf.path!r} have the same canonical "
                f"name {leaf.name!r}; rename one of the modules."
            )
            continue
        seen[leaf.name] = leaf.path
        result.paths[leaf.name] = leaf.path
        slot = leaf.slot
        try:
            slot = corrections.apply(names, slot, leaf.shape)
        except ValueError as error:
            problems.append(f"{error}.")
            continue
        if slot is not None:
            role = slot.role
            if role == "projection" and leaf.module in found.heads and leaf.name.endswith("weight"):
                role = "head"
            place = found.place(leaf)
            if slot.place != Place():  # roles= said some of it
                place = dataclasses.replace(
                    place,
                    **{
                        f.name: getattr(slot.place, f.name)
                        for f in dataclasses.fields(Place)
                        if getattr(slot.place, f.name) != getattr(Place(), f.name)
                    },
                )
            slot = dataclasses.replace(slot, role=role, place=place, name=leaf.name)
            if role == "projection":
                slot = promoted(slot)
        rule = next(
            (
                (i, value)
                for i, (key, value) in enumerate(rule_items)
                if any(fnmatch.fnmatchcase(n, key) for n in names)
            ),
            None,
        )
        if rule is not None:
            used_rules.add(rule[0])
            try:
                result[leaf.name] = _rule_param(rule[1], slot, leaf)
            except (TypeError, ValueError) as error:
                problems.append(f"the rule for {leaf.name!r}: {error}.")
                continue
            if slot is not None:
                result.slots[leaf.name] = slot
            result.formulas[leaf.name] = "rule"
            continue
        if slot is None:
            unknown.setdefault(leaf.kind, []).append(leaf)
            continue
        try:
            choice = chosen.choose(slot, activation)
            if choice is None:
                raise UnknownValueError(f"scheme {chosen.name!r} has no rule for it")
            checked = Param.of(choice.initializer, choice.weight, dtype=leaf.dtype)
        except (UnknownValueError, ValueError) as error:
            refused.setdefault(str(error).rstrip("."), []).append(
                (leaf.name, f"{slot.role} of a {leaf.kind}", len(leaf.shape))
            )
            continue
        result[leaf.name] = checked
        result.slots[leaf.name] = slot
        result.formulas[leaf.name] = choice.formula
        result.schemes[leaf.name] = choice.scheme
    problems += refusals(refused)
    for kind, missing in unknown.items():
        listed = ", ".join(repr(leaf.name) for leaf in missing[:6]) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        hints = sorted({leaf.hint for leaf in missing if leaf.hint})
        problems.append(
            f"parameters {listed} (of {kind}) are of a kind {framework} does not know"
            + (f" ({'; '.join(hints)})" if hints else "")
            + "; say what each is with roles= ({'<name>': {'role': 'projection', 'layout': "
            "'in_out'}} for a weight, {'<name>': 'bias'} for a vector) or give it a rule "
            "(rules={'<name>': weightinit.lecun_normal()})."
        )
    all_names = [leaf.name for leaf in leaves]
    for index, (key, _) in enumerate(rule_items):
        if index not in used_rules:
            close = difflib.get_close_matches(key, all_names, n=3, cutoff=0.0)
            problems.append(
                f"rule {key!r} matches no parameter; the closest names are "
                f"{', '.join(map(repr, close))}."
            )
    problems += corrections.unused(all_names)
    problems += idle_schemes(chosen.composed, set(result.schemes.values()))
    if chosen.residual:
        problems += _unscaled(chosen.name, found, result)
    if problems:
        raise ValueError(
            f"{framework} cannot plan this model ({len(problems)} problem"
            f"{'s' if len(problems) > 1 else ''}):\n- " + "\n- ".join(problems)
        )
    return result


def _unscaled(name: str, found: PathStructure, result: ModelPlan) -> list[str]:
    """Where a scheme scales residual projections: a line per block whose dense layers the
    table cannot place (nor ``roles=``), or one if the model has no residual projection."""
    lines = []
    for block in sorted({*found.incomplete, *found.unknown}, key=list(found.blocks).index):
        inside = [
            s for n, s in result.slots.items() if found.block_of(n.rpartition(".")[0]) == block
        ]
        if any(s.role == "residual_projection" for s in inside) and block not in found.unknown:
            continue
        unsaid = found.unknown.get(block, [])
        if not unsaid and any(s.role == "residual_projection" for s in inside):
            continue
        example = f"*.{unsaid[0]}.weight" if unsaid else "*.<name>.weight"
        lines.append(
            f"block {block!r} has dense layers of no known part "
            f"({', '.join(map(repr, unsaid)) or 'and no output projection'}), and scheme "
            f"{name!r} scales the projections that write into the residual stream; say what "
            f"each is with roles=: {{{example!r}: {{'role': 'residual_projection', 'part': "
            "'down'}} (or part 'attn_out'), or {'role': 'projection', 'part': 'fc_in'} (or q, "
            "k, v, gate, up) for one that reads the stream."
        )
    if not lines and not any(s.role == "residual_projection" for s in result.slots.values()):
        lines.append(
            f"scheme {name!r} scales the projections that write into the residual stream, and "
            "this model has none the path table knows; say which they are with roles= "
            "({'<name>.weight': {'role': 'residual_projection', 'depth': L, 'layer': l}})."
        )
    return lines
