"""A PyTorch model's plan: the module table's slots, a scheme's initializers and the user's
rules, one :class:`~weightinit.Param` per parameter, and what becomes of every buffer.

Everything is planned before anything is touched: :func:`plan` collects every problem (each
unknown parameter, each rule that matches nothing, each buffer it cannot know) and raises
them together, so :func:`~weightinit.torch.initialize_` fails before it changes the model.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from weightinit import registry
from weightinit._errors import install_hint
from weightinit._fans import Weight
from weightinit._planning import RoleRules
from weightinit._planning import idle_schemes
from weightinit._planning import refusals
from weightinit._planning import row
from weightinit._recommend import recommend
from weightinit.initializers import Initializer
from weightinit.model import Param
from weightinit.roles import Slot
from weightinit.schemes import UnknownValueError
from weightinit.schemes import scheme as resolve_scheme
from weightinit.torch._buffers import model_buffers
from weightinit.torch._buffers import recompute
from weightinit.torch._modules import MODEL_CONFIG
from weightinit.torch._modules import constant_value
from weightinit.torch._modules import is_a
from weightinit.torch._modules import qualified
from weightinit.torch._modules import slot
from weightinit.torch._roles import placed
from weightinit.torch._roles import unscaled_blocks
from weightinit.torch._rules import KEEP
from weightinit.torch._rules import Rule
from weightinit.torch._rules import Rules
from weightinit.torch._rules import suggestion
from weightinit.torch._structure import structure

__all__ = ["BufferPlan", "Plan", "aliases_of", "padding_rows", "plan", "torch_module"]


_PARAMETRIZATIONS = "torch.nn.utils.parametrize.ParametrizationList"
_WEIGHT_NORM = "torch.nn.utils.parametrizations._WeightNorm"
_SPECTRAL_NORM = "torch.nn.utils.parametrizations._SpectralNorm"
_HEADS = ("torch.nn.modules.linear.Linear", "transformers.pytorch_utils.Conv1D")
_EMBEDDINGS = ("torch.nn.modules.sparse.Embedding", "torch.nn.modules.sparse.EmbeddingBag")


def torch_module() -> Any:
    """``torch``, or an ``ImportError`` that says how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"weightinit.torch needs PyTorch: install the torch extra with {install_hint('torch')}."
        ) from None
    return torch


@dataclass(frozen=True)
class BufferPlan:
    """What :func:`~weightinit.torch.initialize_` does with one buffer: ``"keep"`` (a real
    buffer), ``"recompute"`` (a function of the configuration), ``"given"`` (``buffers=``)
    or ``"spectral"`` (a spectral norm's vectors, made from its drawn weight), and the
    value it sets, made and checked when the plan is made."""

    action: str
    value: Any = None


class Plan(dict[str, Param]):
    """What :func:`plan` says each parameter gets, in ``named_parameters()`` order; it
    prints as a table (name, role, block index ``l``, shape, initializer, the scheme's
    formula, layout, groups, blocks, fans, std, and the other names of a tied parameter).

    ``slots`` holds each parameter's role and place (its block ``l``, the depth ``L`` and
    width ``d``, its part); ``formulas`` what the scheme's rule says of it (``"rule"`` for a
    user's rule) and ``schemes`` which scheme of a composition gave it. ``kept`` are
    parameters a rule keeps as they are; ``derived`` maps a weight norm's magnitude to the
    direction it is the norm of; ``ties`` maps each tied parameter to its other names;
    ``buffers`` says what becomes of each buffer.
    """

    def __init__(self) -> None:
        super().__init__()
        self.slots: dict[str, Slot] = {}
        self.formulas: dict[str, str] = {}
        self.schemes: dict[str, str] = {}
        self.kept: list[str] = []
        #: The kept parameters that are kept because they are frozen (requires_grad=False).
        self.frozen: list[str] = []
        self.derived: dict[str, str] = {}
        self.ties: dict[str, tuple[str, ...]] = {}
        self.buffers: dict[str, BufferPlan] = {}

    def __str__(self) -> str:
        head = ("name", "role", "l", "shape", "initializer", "formula", "layout", "groups")
        rows: list[tuple[str, ...]] = [(*head, "blocks", "fan_in", "fan_out", "std", "tied_to")]
        for name, p in self.items():
            found = self.slots.get(name)
            role = found.role if found is not None else "-"
            layer = "" if found is None or found.place.layer is None else str(found.place.layer)
            formula = self.formulas.get(name, "")
            rows.append((*row(name, p, role, layer, formula), ", ".join(self.ties.get(name, ()))))
        rows += [
            (name, "", "", "", "keep (frozen)" if name in self.frozen else "keep", *[""] * 8)
            for name in self.kept
        ]
        rows += [(m, "", "", "", f"norm of {d}", *[""] * 8) for m, d in self.derived.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
        return "\n".join(line.rstrip() for line in lines)


def _through(modules: dict[str, Any], name: str) -> tuple[str, Any, str]:
    """The (path, module, leaf) parameter ``name`` stands for: its owner and leaf, or for a
    parametrisation's tensor (``layer.parametrizations.weight.original``) the layer itself
    and the tensor it stands for (``weight``)."""
    path, _, leaf = name.rpartition(".")
    if path and qualified(type(modules[path])) == _PARAMETRIZATIONS:
        base_path, _, tensor_name = path.rpartition(".")
        base_path = base_path.rpartition(".")[0]  # drop ".parametrizations"
        return base_path, modules[base_path], tensor_name
    return path, modules[path], leaf


def aliases_of(named: Any) -> dict[int, list[str]]:
    """Every name of each tensor of ``named`` (``(name, tensor)`` pairs that repeat a tied
    tensor under each of its names), by the tensor's id."""
    names: dict[int, list[str]] = {}
    for name, tensor in named:
        names.setdefault(id(tensor), []).append(name)
    return names


def _slot_of(
    modules: dict[str, Any], name: str, tensor: Any, derived: dict[str, str]
) -> Slot | None:
    """The slot of parameter ``name`` (``modules``: the model's modules by name), seeing
    through weight-norm and spectral-norm parametrisations to the layer's own weight."""
    owner_path, _, leaf = name.rpartition(".")
    owner = modules[owner_path]
    path, layer, tensor_name = _through(modules, name)
    shape = tuple(tensor.shape)
    if layer is owner:
        return slot(owner, leaf, shape, owner_path)
    kind = qualified(type(owner[0])) if len(owner) == 1 else ""
    if kind == _WEIGHT_NORM and leaf == "original0":
        derived[name] = f"{owner_path}.original1"
        return None
    if kind in (_WEIGHT_NORM, _SPECTRAL_NORM) and leaf in ("original1", "original"):
        return slot(layer, tensor_name, shape, path)
    return None


def plan(
    module: Any,
    *,
    scheme: object = "recommended",
    activation: object = None,
    rules: Mapping[object, object] | None = None,
    buffers: Mapping[str, object] | None = None,
    roles: Mapping[str, object] | None = None,
) -> Plan:
    """What :func:`initialize_` gives each parameter and buffer of ``module``, in
    ``named_parameters()`` order; it rejects exactly what :func:`initialize_` rejects.

    Parameters
    ----------
    module : torch.nn.Module
    scheme : str or Scheme, default "recommended"
        A scheme's name (:data:`weightinit.schemes.SCHEMES`; partial ones composed with
        ``+``: ``"gpt2+zero_init_residual"``) or a scheme with parameters
        (``weightinit.schemes.megatron(std=0.006)``). ``"recommended"``: weights from
        ``recommend(activation)`` with their true fans (groups, stacked q/k/v blocks,
        transformers' ``(in, out)`` ``Conv1D``), an embedding tied to the output head
        ``N(0, 1/d)``, see :mod:`weightinit.schemes`. ``"pytorch"``: every layer's own
        PyTorch default, drawn portably. ``"hf"``: each transformers family's own
        ``_init_weights``. A partial scheme that acts on nothing in the model is an error.
    activation : str, callable or None
        The network's activation, as for :func:`weightinit.recommend` (``None``: linear).
    rules : mapping, optional
        Glob patterns on parameter names (any name of a tied parameter) or module classes,
        mapped to an initializer (or its name or config), a :class:`~weightinit.Param` (a
        dtype it leaves unset is the parameter's), a :class:`Rule` (an initializer and a
        layout, groups or blocks without a shape), ``"keep"`` (the current value), or a
        dict of those by leaf name (``{Conv1D: {"weight": ..., "bias": ...}}``). Patterns
        are tried first, in order, then classes; a rule wins over the scheme.
    buffers : mapping, optional
        Buffer names mapped to a tensor or array (the value), or to a callable of no
        argument that returns it, for buffers on the meta device that are not functions
        of the configuration (or to replace a real buffer's value).
    roles : mapping, optional
        Glob patterns on parameter names mapped to a role (:data:`weightinit.roles.ROLES`)
        or to a mapping of ``role``, ``layout`` and :class:`~weightinit.roles.Place` fields
        (``{"*.alpha": "residual_gate"}``, ``{"blocks.*.proj.weight": {"part": "down"}}``):
        what the architecture table says, corrected; the first pattern that matches wins.

    Raises
    ------
    ValueError
        Listing every problem at once: parameters of module types it does not know (by
        type, each with a rule that fits it), rules that match nothing (with the closest
        names), ``"keep"`` on the meta device, and buffers on the meta device it cannot know.

    Examples
    --------
    >>> import torch
    >>> from weightinit.torch import plan
    >>> p = plan(torch.nn.Conv2d(16, 32, 3, groups=2), activation="relu")
    >>> p["weight"].initializer, p["weight"].groups, p["bias"].initializer
    (he_normal(), 2, zeros())
    """
    torch = torch_module()
    token = MODEL_CONFIG.set(getattr(module, "config", None))
    try:
        return _plan(torch, module, scheme, activation, rules, buffers, roles)
    finally:
        MODEL_CONFIG.reset(token)


def _plan(
    torch: Any,
    module: Any,
    scheme: object,
    activation: object,
    rules: Mapping[object, object] | None,
    buffers: Mapping[str, object] | None,
    roles: Mapping[str, object] | None,
) -> Plan:
    """:func:`plan`, with the model's configuration in :data:`MODEL_CONFIG`."""
    chosen = resolve_scheme(scheme)
    recommend(activation)  # a misspelt activation is an error under every scheme
    table = Rules(rules)
    # roles= says a layout, not explicit axes or groups: the module table knows those.
    corrections = RoleRules(
        roles, framework="weightinit.torch", layout="out_in", geometry=("layout",)
    )
    given = dict(buffers or {})
    # nn.Transformer re-draws every weight of two or more dimensions with xavier_uniform_.
    containers = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Transformer)]
    modules = dict(module.named_modules(remove_duplicate=False))
    found_structure = structure(module)
    aliases = aliases_of(module.named_parameters(remove_duplicate=False))
    result = Plan()
    unknown: dict[str, list[str]] = {}
    problems: list[str] = []
    #: A scheme's refusals, by their reason: (name, what it is, its rank) of each.
    refused: dict[str, list[tuple[str, str, int]]] = {}
    kinds: set[str] = set()
    all_names = [n for names in aliases.values() for n in names]
    for name, tensor in module.named_parameters():
        names = aliases[id(tensor)]
        owners = [_through(modules, n)[1] for n in names]
        kinds.update(type(o).__name__ for o in owners)
        if len(names) > 1:
            result.ties[name] = tuple(names[1:])
        if isinstance(tensor, torch.nn.parameter.UninitializedParameter):
            problems.append(
                f"parameter {name!r} of a {type(owners[0]).__name__} has no shape yet (a lazy "
                "module); run one forward pass before planning its initialisation."
            )
            continue
        shape = tuple(tensor.shape)
        dtype = np.float64 if tensor.dtype == torch.float64 else np.float32
        placements = getattr(tensor, "placements", None)
        if placements is not None and not all(
            type(p).__name__ in ("Shard", "Replicate") for p in placements
        ):
            problems.append(
                f"parameter {name!r} is a DTensor with placements {tuple(placements)}; "
                "weightinit.torch fills Shard and Replicate placements."
            )
            continue
        known = _slot_of(modules, name, tensor, result.derived)
        for other in names[1:]:  # a parameter shared into a known module is known there
            if known is None and name not in result.derived:
                known = _slot_of(modules, other, tensor, result.derived)
        if name in result.derived:
            # A weight norm's magnitude answers to a pattern on its own name only: a rule for
            # the layer's weight is the direction's.
            found = table.find(names, [None], name.rpartition(".")[2])
        else:
            found = table.find(names, owners, _through(modules, name)[2])
        if name in result.derived:
            if found is None:
                continue  # a weight norm's magnitude: made from its direction
            del result.derived[name]  # a rule says otherwise
        path, _, tensor_name = _through(modules, name)

        def locate(
            found: Slot, path: str = path, leaf: str = tensor_name, name: str = name
        ) -> Slot:
            return placed(found_structure, found, path, leaf, modules, name)

        def start(owner: Any = owners[0], tensor: Any = tensor) -> float | None:
            return constant_value(owner, tensor)

        if known is not None:
            known = locate(known)
        if known is not None and _tied_head(owners):
            known = dataclasses.replace(known, role="tied_embedding")
        try:
            known = corrections.apply(
                names,
                known,
                shape,
                value=start,
                locate=locate,
            )
        except ValueError as error:
            problems.append(f"{error}.")
            continue
        if known is not None and known.name != name:
            known = dataclasses.replace(known, name=name, model=found_structure.facts)
        inside = any(name.startswith(f"{c}.") or not c for c in containers)
        if inside and len(shape) > 1 and chosen.redraw is not None:
            # The container re-draws it whatever its module is.
            base = known or Slot("projection", Weight(shape, "out_in"))
            known = dataclasses.replace(base, redrawn=True)
        if found is not None:
            value = found[1]
            if isinstance(value, str) and value == KEEP:
                if tensor.is_meta:
                    problems.append(
                        f"rule 'keep' for {name!r}: the parameter is on the meta device and "
                        "has no value to keep; give it an initializer."
                    )
                else:
                    result.kept.append(name)
                continue
            if isinstance(value, Param):
                if value.shape != shape:
                    problems.append(
                        f"the rule for {name!r} gives shape {value.shape}; the parameter has "
                        f"{shape}."
                    )
                    continue
                result[name] = (
                    value
                    if value.dtype is not None
                    else Param.of(value.initializer, value.weight, dtype=dtype)
                )
                continue
            try:
                init, weight = _from_rule(value, known, chosen, activation, shape)
                checked = Param.of(init, weight, dtype=dtype)
                registry.get(checked.initializer)._recipe(checked.weight)  # it can fill it
            except (TypeError, ValueError, UnknownValueError) as error:
                if table.by_class(found[0]) and len(shape) < 2 and known is not None:
                    # A class's rule for its weights ({Conv1D: "lecun_normal"}) does not
                    # reach a vector it cannot fill (the bias): the scheme fills that.
                    table.skipped.append(name)
                else:
                    problems.append(f"the rule for {name!r}: {error}")
                    continue
            else:
                result[name] = checked
                if known is not None:
                    result.slots[name] = known
                result.formulas[name] = "rule"
                continue
        if not tensor.requires_grad:
            # A frozen parameter holds the model's own values (a sinusoidal table, a frozen
            # pretrained layer): it is kept, unless a rule says otherwise.
            if tensor.is_meta:
                problems.append(
                    f"parameter {name!r} is frozen (requires_grad=False): its values are the "
                    "model's own, and on the meta device there are none; build the model on a "
                    f"real device (it is kept there) or give it a rule (rules={{{name!r}: ...}})."
                )
            else:
                result.kept.append(name)
                result.frozen.append(name)
            continue
        if known is None:
            unknown.setdefault(type(owners[0]).__name__, []).append(name)
            continue
        try:
            choice = chosen.choose(known, activation)
            if choice is None:
                raise UnknownValueError(f"scheme {chosen.name!r} has no rule for it")
            checked = Param.of(choice.initializer, choice.weight, dtype=dtype)
        except (UnknownValueError, ValueError) as error:
            refused.setdefault(str(error).rstrip("."), []).append(
                (name, f"{known.role} of a {type(owners[0]).__name__}", len(shape))
            )
            continue
        result[name] = checked
        result.slots[name] = known
        result.formulas[name] = choice.formula
        result.schemes[name] = choice.scheme
    problems += refusals(refused)
    for kind, names in unknown.items():
        ranks = {n.rpartition(".")[2]: module.get_parameter(n).dim() for n in names}
        listed = ", ".join(map(repr, names[:6])) + (
            f" and {len(names) - 6} more" if len(names) > 6 else ""
        )
        problems.append(
            f"parameters {listed} belong to a {kind}, a module type weightinit.torch does not "
            f"know; give it a rule: {suggestion(kind, ranks)}."
        )
    problems += table.unused(all_names, kinds)
    problems += corrections.unused(all_names)
    problems += idle_schemes(chosen.composed, set(result.schemes.values()))
    if chosen.residual:
        problems += unscaled_blocks(chosen.name, found_structure, result, corrections.said)
    problems += table.unknown_leaves()
    problems += _plan_buffers(torch, module, given, result)
    if problems:
        raise ValueError(
            f"weightinit.torch cannot plan this {type(module).__name__} "
            f"({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n- "
            + "\n- ".join(problems)
        )
    return result


def padding_rows(torch: Any, module: Any) -> list[tuple[Any, int]]:
    """Each embedding weight of ``module`` with a ``padding_idx``, and that row (which
    PyTorch keeps at zero)."""
    rows = []
    for owner in module.modules():
        padding = getattr(owner, "padding_idx", None)
        if isinstance(owner, (torch.nn.Embedding, torch.nn.EmbeddingBag)) and padding is not None:
            rows.append((owner.weight, padding % owner.weight.shape[0]))
    return rows


def _tied_head(owners: list[Any]) -> bool:
    """Whether one parameter is both an embedding table and an output head's weight."""
    return any(is_a(o, _EMBEDDINGS) for o in owners) and any(is_a(o, _HEADS) for o in owners)


def _from_rule(
    value: object, known: Slot | None, chosen: Any, activation: object, shape: tuple[int, ...]
) -> tuple[Initializer, Weight]:
    """The initializer and geometry a rule gives: its own, over the table's where it is
    silent (``out_in`` for a module type the table does not know)."""
    rule = value if isinstance(value, Rule) else Rule(value)
    base = known.weight if known is not None else Weight(shape, "out_in")
    weight = Weight.checked(
        shape,
        rule.layout or base.layout,
        rule.groups if rule.groups is not None else base.groups,
        rule.blocks if rule.blocks is not None else base.blocks,
    )
    if rule.init is not None:
        return rule.init, weight  # type: ignore[return-value]
    if known is None:
        raise ValueError("its module type is unknown, so the rule must name an initializer")
    init, _ = chosen.initializer(dataclasses.replace(known, weight=weight), activation)
    return init, weight


def _plan_buffers(torch: Any, module: Any, given: dict[str, object], result: Plan) -> list[str]:
    """Plan every buffer into ``result.buffers`` (making and checking every value it will
    set); return a line per buffer it cannot know or whose given value does not fit."""
    problems: list[str] = []
    names = {n for n, _ in module.named_buffers()}
    for name in given:
        if name not in names:
            close = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.0)
            problems.append(
                f"buffers={{{name!r}: ...}} names no buffer; the closest are "
                f"{', '.join(map(repr, close)) or 'none (the model has no buffers)'}."
            )
    drawn = set(result)
    rebuilt: dict[str, Any] | None = None  # the model built again, where a buffer needs it
    for name, buffer in module.named_buffers():
        owner_path, _, leaf = name.rpartition(".")
        owner = module.get_submodule(owner_path)
        spectral = qualified(type(owner)) == _SPECTRAL_NORM and leaf in ("_u", "_v")
        if name in given:
            try:
                result.buffers[name] = BufferPlan("given", _value(torch, buffer, given[name]))
            except (TypeError, ValueError) as error:
                problems.append(f"buffers[{name!r}] {error}")
        elif spectral and f"{owner_path.rpartition('.')[0]}.original" in drawn:
            # Power-iteration vectors of the weight they belong to: they follow its values.
            result.buffers[name] = BufferPlan("spectral")
        elif not buffer.is_meta:
            result.buffers[name] = BufferPlan("keep")
        else:
            maker: Callable[[], Any] | None = None
            if not spectral:
                # The model built again from its config knows every buffer as a normally
                # built model has it (a module's constructor arguments included); the rules
                # by name and by module serve models without a config.
                if rebuilt is None:
                    rebuilt = model_buffers(torch, module) or {}
                found = rebuilt.get(name)
                if found is not None and tuple(found.shape) == tuple(buffer.shape):
                    maker = functools.partial(_same, found)
                else:
                    maker = recompute(torch, owner, leaf, buffer)
            if maker is None:
                problems.append(
                    f"buffer {name!r} of a {type(owner).__name__} is on the meta device and is "
                    f"not a function of the configuration weightinit.torch knows; give its "
                    f"value: buffers={{{name!r}: tensor}}."
                )
            else:
                result.buffers[name] = BufferPlan("recompute", _value(torch, buffer, maker))
    return problems


def _same(value: Any) -> Any:
    return value


def _value(torch: Any, buffer: Any, given: object) -> Any:
    """A buffer's new value from a tensor, an array or a callable that returns one, in the
    buffer's dtype; ``ValueError`` if it cannot be made or does not fit the buffer."""
    try:
        value = given() if callable(given) else given
        tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    except Exception as error:  # a user's callable or value: reported as bad input
        raise ValueError(f"gives no value: {type(error).__name__}: {error}") from error
    if tuple(tensor.shape) != tuple(buffer.shape):
        raise ValueError(f"has shape {tuple(tensor.shape)}; the buffer has {tuple(buffer.shape)}.")
    return tensor.to(dtype=buffer.dtype)
