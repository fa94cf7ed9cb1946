"""The schemes of the transformer references: a standard deviation per role, scaled by the
block index ``l``, the depth ``L`` and the width ``d`` where the reference does.

Each function returns a complete :class:`~weightinit.schemes.Scheme`; the formulas, papers
and reference files are listed on the documentation's schemes page.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from weightinit._errors import choice_error
from weightinit.families import normal
from weightinit.families import truncated_normal
from weightinit.families import zeros
from weightinit.initializers import Initializer
from weightinit.roles import Slot
from weightinit.schemes._core import Choice
from weightinit.schemes._core import Rule
from weightinit.schemes._core import Scheme
from weightinit.schemes._core import UnknownValueError
from weightinit.schemes._core import depth_of
from weightinit.schemes._core import layer_of
from weightinit.schemes._core import neutral
from weightinit.schemes._core import number
from weightinit.schemes._core import width_of
from weightinit.schemes._core import zero

__all__ = ["gpt2", "hf", "megatron", "olmo", "small_init", "torchtitan"]

#: A standard deviation rule: slot -> (std, the formula it follows).
Std = Callable[[Slot], tuple[float, str]]


def _check_std(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return float(value)


def _drawn(std: Std, cutoff: float | None, absolute: float | None = None) -> Rule:
    """A rule drawing ``N(0, std(slot)**2)``, cut at ``± cutoff`` standard deviations, or
    at ``± absolute`` (PyTorch's ``trunc_normal_`` bounds), where given."""

    def rule(slot: Slot, activation: object) -> Choice:
        value, formula = std(slot)
        init: Initializer
        if cutoff is not None:
            init, cut = truncated_normal(value, bound=cutoff), f", cut at ±{number(cutoff)}σ"
        elif absolute is not None:
            init = truncated_normal(value, bound=absolute / value)
            cut = f", cut at ±{number(absolute)} (absolute)"
        else:
            init, cut = normal(value), ""
        return Choice(init, slot.weight, f"σ = {formula}{cut}")

    return rule


def _fixed(value: float, formula: str) -> Std:
    return lambda slot: (value, formula)


def _family_scheme(
    name: str,
    *,
    inputs: Std,
    outputs: Std,
    embedding: Std,
    head: Std,
    cutoff: float | None = None,
    tokens: Std | None = None,
    residual: bool = True,
    absolute: float | None = None,
) -> Scheme:
    """A complete scheme from four standard deviations: input-side weights (q, k, v, up,
    gate, fc1, convolutions and any other dense weight), residual output projections,
    embeddings and the head; biases zero, norms, layer scales and gates where the model
    starts them."""
    draw_in, draw_out = _drawn(inputs, cutoff, absolute), _drawn(outputs, cutoff, absolute)
    draw_embedding, draw_head = _drawn(embedding, cutoff), _drawn(head, cutoff)
    draw_token = _drawn(tokens or inputs, cutoff, absolute)
    rules: dict[str, Rule] = {
        "projection": draw_in,
        "residual_projection": draw_out,
        "head": draw_head,
        "convolution": draw_in,
        "bilinear": draw_in,
        "embedding": draw_embedding,
        "tied_embedding": draw_embedding,
        "position_embedding": draw_token,
        "token": draw_token,
        "mask_token": zero,
        "attention_in": draw_in,
        "attention_kv_bias": draw_in,
        "recurrent_input": draw_in,
        "recurrent_hidden": draw_in,
        "recurrent_projection": draw_in,
        "recurrent_bias": zero,
        "norm_gain": neutral,
        "norm_bias": zero,
        "layer_scale": neutral,
        "activation_parameter": neutral,
        "logit_scale": neutral,
        "residual_gate": neutral,
        "bias": zero,
    }
    return Scheme(name, rules, residual=residual)


def gpt2(std: float = 0.02, *, scaled: bool = True) -> Scheme:
    """GPT-2 as nanoGPT initializes it: every dense weight and embedding ``N(0, std**2)``,
    the residual output projections (``c_proj``) ``N(0, (std/√(2L))**2)``, biases zero,
    norms one and zero.

    ``scaled=False`` leaves the residual projections at ``std`` (OpenAI's own code, and the
    baseline whose residual stream grows with depth).

    Examples
    --------
    >>> from weightinit import Weight
    >>> from weightinit.roles import Place, Slot
    >>> from weightinit.schemes import gpt2
    >>> out = Slot("residual_projection", Weight((768, 768), "out_in"), place=Place(0, 12, 768))
    >>> choice = gpt2().choose(out)
    >>> choice.initializer, choice.formula
    (normal(0.004082482904638631), 'σ = 0.02/√(2L), L=12')
    """
    std = _check_std("std", std)
    return _megatron_like("gpt2" if scaled else "gpt2(scaled=False)", std, 2.0 if scaled else 0.0)


def megatron(std: float = 0.02, *, multiplier: float = 2.0) -> Scheme:
    """Megatron-LM's ``init_method_normal`` and ``scaled_init_method_normal``: every weight
    ``N(0, σ²)`` with σ = ``init_method_std``, the output layers of attention and MLP
    ``N(0, σ²/(multiplier·L))``; ``multiplier=1`` is Megatron's setting for hybrid
    (Mamba) models. The LM head and the embeddings are not scaled.

    Examples
    --------
    >>> from weightinit.schemes import megatron
    >>> megatron(std=0.006).name
    'megatron(std=0.006)'
    """
    std = _check_std("std", std)
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)):
        raise TypeError(f"multiplier must be a number; got {multiplier!r}.")
    if not (multiplier > 0 and math.isfinite(multiplier)):
        raise ValueError(f"multiplier must be a positive finite number; got {multiplier!r}.")
    options = [f"std={std:g}"] * (std != 0.02) + [f"multiplier={multiplier:g}"] * (multiplier != 2)
    name = "megatron" + (f"({', '.join(options)})" if options else "")
    return _megatron_like(name, std, float(multiplier))


def _depth_scaled(std: float, multiplier: float = 2.0) -> Std:
    """Megatron's ``scaled_init_method_normal``: ``std/√(multiplier·L)``."""
    factor = "2L" if multiplier == 2 else f"{number(multiplier)}L" if multiplier != 1 else "L"

    def scaled(slot: Slot) -> tuple[float, str]:
        depth = depth_of(slot)
        return std / math.sqrt(multiplier * depth), f"{number(std)}/√({factor}), L={depth}"

    return scaled


def _megatron_like(name: str, std: float, multiplier: float) -> Scheme:
    base = _fixed(std, number(std))

    outputs = base if multiplier == 0 else _depth_scaled(std, multiplier)
    return _family_scheme(
        name, inputs=base, outputs=outputs, embedding=base, head=base, residual=multiplier != 0
    )


def torchtitan(
    std: float = 0.02, *, depth_init: bool = True, cutoff: float | None = None
) -> Scheme:
    """torchtitan's Llama 3 initialization: ``wq``, ``wk``, ``wv`` and ``w1`` (the gate)
    truncated ``N(0, std**2)``; ``wo``, ``w2`` (down) and ``w3`` (up) at
    ``std/√(2(l+1))`` (``depth_init=False``: ``std/√(2L)``); token embeddings ``N(0, 1)``;
    the output head ``d^-1/2`` cut at ``±3σ``; norms one.

    torchtitan truncates with ``trunc_normal_``'s default bounds, which are absolute
    (``a=-2, b=2``): at σ = 0.02 they are ±100σ and cut nothing. The default
    (``cutoff=None``) draws exactly that law, so a model torchtitan's own code initialized
    passes an audit against this scheme; ``cutoff=2.0`` cuts at the ±2σ the bounds were
    meant to be (then the standard deviation drawn is 0.88σ).

    Examples
    --------
    >>> from weightinit import Weight
    >>> from weightinit.roles import Place, Slot
    >>> from weightinit.schemes import torchtitan
    >>> up = Slot("projection", Weight((256, 64), "out_in"), place=Place(3, 8, 64, "up"))
    >>> torchtitan().choose(up).formula
    'σ = 0.02/√(2(l+1)), l=3, cut at ±2 (absolute)'
    >>> torchtitan(cutoff=2.0).choose(up).formula
    'σ = 0.02/√(2(l+1)), l=3, cut at ±2σ'
    """
    std = _check_std("std", std)
    if cutoff is not None:
        cutoff = _check_std("cutoff", cutoff)

    by_depth = _depth_scaled(std)

    def deep(slot: Slot) -> tuple[float, str]:
        if not depth_init:
            return by_depth(slot)
        layer = layer_of(slot)
        return std / math.sqrt(2 * (layer + 1)), f"{number(std)}/√(2(l+1)), l={layer}"

    def inputs(slot: Slot) -> tuple[float, str]:
        return deep(slot) if slot.place.part == "up" else (std, number(std))

    def head(slot: Slot) -> tuple[float, str]:
        d = slot.weight.fans.fan_in
        return d**-0.5, f"d^-1/2, d={d}"

    options = ["depth_init=False"] * (not depth_init)
    options += [] if cutoff is None else [f"cutoff={cutoff:g}"]
    name = "torchtitan" + (f"({', '.join(options)})" if options else "")
    scheme = _family_scheme(
        name,
        inputs=inputs,
        outputs=deep,
        embedding=_fixed(1.0, "1"),
        head=head,
        cutoff=cutoff,
        absolute=2.0 if cutoff is None else None,
    )
    rules = dict(scheme.rules)
    rules["head"] = _drawn(head, 3.0)
    rules["embedding"] = _drawn(_fixed(1.0, "1"), None)
    rules["tied_embedding"] = _drawn(_fixed(1.0, "1"), None)
    return Scheme(name, rules, residual=True)


_OLMO = ("normal", "mitchell", "full_megatron")


def olmo(init_fn: str = "mitchell", *, std: float = 0.02, cutoff: float | None = 3.0) -> Scheme:
    """OLMo's ``init_fn`` options, each cut at ``± cutoff`` standard deviations:

    - ``"normal"``: every weight truncated ``N(0, std**2)`` (OLMo 2);
    - ``"mitchell"``: input projections ``1/√d``, attention output ``1/√(2·d·(l+1))``,
      MLP output ``1/√(2·d_ff·(l+1))`` (``d_ff`` its fan-in), embeddings and head ``1/√d``;
    - ``"full_megatron"``: input projections ``std``, outputs ``std/√(2L)``, embeddings
      ``std``, head ``d^-1/2``.

    Examples
    --------
    >>> from weightinit.schemes import olmo
    >>> olmo("full_megatron").name
    "olmo('full_megatron')"
    """
    if init_fn not in _OLMO:
        raise choice_error("init_fn", init_fn, _OLMO)
    std = _check_std("std", std)
    if cutoff is not None:
        cutoff = _check_std("cutoff", cutoff)
    base = _fixed(std, number(std))

    def fan_in_std(slot: Slot) -> tuple[float, str]:
        d = slot.weight.fans.fan_in
        return d**-0.5, f"1/√d, d={d}"

    def width_std(slot: Slot) -> tuple[float, str]:
        d = _model_width(slot)  # d_model: an embedding's (or a position table's) width
        return d**-0.5, f"1/√d, d={d}"

    def mitchell_out(slot: Slot) -> tuple[float, str]:
        layer = layer_of(slot)
        if slot.place.part == "down":  # OLMo: ff_out's own fan-in
            fan = slot.weight.fans.fan_in
            return 1 / math.sqrt(2 * fan * (layer + 1)), f"1/√(2·d_ff·(l+1)), d_ff={fan}, l={layer}"
        d = _model_width(slot)
        return 1 / math.sqrt(2 * d * (layer + 1)), f"1/√(2·d·(l+1)), d={d}, l={layer}"

    name = f"olmo({init_fn!r})" if init_fn != "mitchell" else "olmo"
    if init_fn == "normal":
        return _family_scheme(
            name,
            inputs=base,
            outputs=base,
            embedding=base,
            head=base,
            cutoff=cutoff,
            residual=False,
        )
    if init_fn == "mitchell":
        return _family_scheme(
            name,
            inputs=fan_in_std,
            outputs=mitchell_out,
            embedding=width_std,
            head=fan_in_std,
            cutoff=cutoff,
            tokens=width_std,
        )
    return _family_scheme(
        name,
        inputs=base,
        outputs=_depth_scaled(std),
        embedding=base,
        head=fan_in_std,
        cutoff=cutoff,
    )


def small_init() -> Scheme:
    """GPT-NeoX's ``small_init`` with ``wang_init`` (the setting of its shipped configs):
    every weight and embedding ``N(0, 2/(5d))`` (Nguyen and Salazar 2019), the residual
    output projections, attention's and the MLP's, ``N(0, (2/(L·√d))**2)`` (Wang 2021).

    Examples
    --------
    >>> from weightinit.schemes import small_init
    >>> small_init().name
    'small_init'
    """

    def inputs(slot: Slot) -> tuple[float, str]:
        d = _model_width(slot)
        return math.sqrt(2 / (5 * d)), f"√(2/(5d)), d={d}"

    def outputs(slot: Slot) -> tuple[float, str]:
        d, depth = _model_width(slot), depth_of(slot)
        return 2 / (depth * math.sqrt(d)), f"2/(L·√d), L={depth}, d={d}"

    return _family_scheme(
        "small_init", inputs=inputs, outputs=outputs, embedding=inputs, head=inputs
    )


def _model_width(slot: Slot) -> int:
    """The model's width: its place's, else an embedding's width, else the fan-in."""
    if slot.place.width is not None:
        return width_of(slot)
    if slot.role in ("embedding", "tied_embedding", "position_embedding", "token"):
        return slot.weight.shape[-1] if slot.weight.shape else 1
    return slot.weight.fans.fan_in


# ------------------------------------------------------------------------------------ hf

#: Model families whose ``_init_weights`` scales residual output projections by
#: 1/√(2·n_layer), and which of them (transformers 5: GPT-2's ``c_proj`` weights, nanochat's
#: ``o_proj``).
HF_SCALED: dict[str, tuple[str, ...]] = {
    "gpt2": ("attn_out", "down"),
    "decision_transformer": ("attn_out", "down"),
    "imagegpt": ("attn_out", "down"),
    "gpt_bigcode": ("attn_out", "down"),
    "nanochat": ("attn_out",),
}

#: The families whose ``_init_weights`` ``hf`` reproduces (transformers 5: the generic
#: ``PreTrainedModel._init_weights``, GPT-2's scaling, T5's fan-scaled weights), each
#: checked by an audit of the model's own initialization. Other families (CLIP, CLVP,
#: ResNet, Swin, ...) have their own init, which ``hf`` does not claim to know.
HF_FAMILIES = frozenset(
    {
        *HF_SCALED,
        "bert",
        "roberta",
        "distilbert",
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "gemma",
        "phi",
        "gptj",
        "gpt_neox",
        "falcon",
        "opt",
        "bart",
        "vit",
        "whisper",
        "t5",
        "mt5",
        "umt5",
    }
)


def hf(std: float | None = None) -> Scheme:
    """Each transformers model family's own ``_init_weights`` (transformers 5), drawn
    portably: dense weights and embeddings ``N(0, initializer_range**2)`` (read from the
    model's config, 0.02 where it has none; ``std`` overrides it), biases zero, norms one
    and zero; the ``c_proj`` weights of GPT-2 and the families that copy its init
    (:data:`HF_SCALED`) ``initializer_range/√(2·n_layer)``; T5's fan-scaled weights
    (``initializer_factor``
    times ``d_model^-1/2`` for k, v and ``wi``, ``(d_model·d_kv)^-1/2`` for q, the fan-in's
    for o and ``wo``, embeddings ``initializer_factor``).

    Examples
    --------
    >>> from weightinit.schemes import hf
    >>> hf().name, hf(std=0.01).name
    ('hf', 'hf(std=0.01)')
    """
    if std is not None:
        std = _check_std("std", std)

    def facts(slot: Slot) -> tuple[str, float]:
        family = str(slot.model.get("family", ""))
        if family not in HF_FAMILIES:
            raise UnknownValueError(
                f"scheme 'hf' reproduces the _init_weights of transformers' families "
                f"{', '.join(sorted(HF_FAMILIES))}; this model's family is "
                f"{family or 'not a transformers one'!r}, whose init it does not claim to "
                "know (use 'gpt2', 'megatron', ... or rules)"
            )
        if family in ("t5", "mt5", "umt5"):
            return "t5", float(slot.model.get("initializer_factor", 1.0))  # type: ignore[arg-type]
        if std is not None:
            return family, std
        for name in ("initializer_range", "init_std"):
            found = slot.model.get(name)
            if isinstance(found, (int, float)) and found:
                return family, float(found)
        return family, 0.02  # PreTrainedModel._init_weights' own fallback

    def inputs(slot: Slot) -> tuple[float, str]:
        family, value = facts(slot)
        if family != "t5":
            return value, f"initializer_range={number(value)}"
        fan = slot.weight.fans.fan_in
        if slot.place.part == "q":
            d_kv = int(slot.model.get("d_kv", 64))  # type: ignore[call-overload]
            return value / math.sqrt(fan * d_kv), f"factor·(d_model·d_kv)^-1/2, d_kv={d_kv}"
        return value / math.sqrt(fan), f"factor·fan_in^-1/2, fan_in={fan}"

    def outputs(slot: Slot) -> tuple[float, str]:
        family, value = facts(slot)
        if family == "t5":
            fan = slot.weight.fans.fan_in
            return value / math.sqrt(fan), f"factor·fan_in^-1/2, fan_in={fan}"
        if slot.place.part in HF_SCALED.get(family, ()):
            depth = int(slot.model.get("n_layer", depth_of(slot)))  # type: ignore[call-overload]
            scaled = value / math.sqrt(2 * depth)
            return scaled, f"initializer_range/√(2·n_layer), n_layer={depth}"
        return value, f"initializer_range={number(value)}"

    def embedding(slot: Slot) -> tuple[float, str]:
        family, value = facts(slot)
        if family == "t5":
            return value, "factor"
        return value, f"initializer_range={number(value)}"

    def head(slot: Slot) -> tuple[float, str]:
        family, value = facts(slot)
        return (
            (value, "factor") if family == "t5" else (value, f"initializer_range={number(value)}")
        )

    def positions(slot: Slot) -> tuple[float, str]:
        family, value = facts(slot)
        if family == "t5":  # relative_attention_bias
            d = int(slot.model.get("d_model", slot.weight.shape[-1]))  # type: ignore[call-overload]
            return value / math.sqrt(d), f"factor·d_model^-1/2, d_model={d}"
        return value, f"initializer_range={number(value)}"

    name = "hf" if std is None else f"hf(std={std:g})"
    scheme = _family_scheme(
        name, inputs=inputs, outputs=outputs, embedding=embedding, head=head, tokens=positions
    )
    rules = dict(scheme.rules)
    rules["mask_token"] = lambda slot, activation: Choice(zeros(), slot.weight)
    return Scheme(name, rules)  # transformers' families mostly scale nothing by depth
