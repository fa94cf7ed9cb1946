"""Which initializer to use with an activation, and why: the literature's answer, explained.

Rectifiers get He's variance, near-linear activations Glorot's, SELU LeCun's; any other
activation or callable gets LeCun's variance times its second-moment gain, named by the
activation (``lecun_normal(gain='gelu')``). Which of these an activation gets is the
``family`` of its record (:class:`weightinit.Activation`); this module maps each
family to its initializer and to the paragraph :func:`explain` gives.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import textwrap
from collections.abc import Mapping
from typing import Any

from weightinit import named
from weightinit._activations import Activation
from weightinit._activations import gain
from weightinit._activations import lookup
from weightinit._activations import resolve
from weightinit._errors import choice_error
from weightinit.families import DISTRIBUTIONS
from weightinit.families import DistributionName
from weightinit.families import VarianceScaling
from weightinit.families import he_scale
from weightinit.initializers import Initializer

__all__ = ["explain", "recommend"]

# What explain says of each family's recommendation (an activation's own reason replaces it).
_REASONS: dict[str, str] = {
    "he": "A rectifier zeroes half of its inputs, so E[f(z)^2] = (1 + a^2) / 2 and weights of "
    "variance 2 / ((1 + a^2) fan_in) keep the signal's scale through depth (He et al. (2015), "
    "'Delving Deep into Rectifiers').",
    "glorot": "Near zero this activation is close to linear, and Glorot's variance "
    "2 / (fan_in + fan_out) balances the forward signal and the backward gradient (Glorot & "
    "Bengio (2010), 'Understanding the difficulty of training deep feedforward neural "
    "networks').",
    "lecun": "LeCun's variance 1 / fan_in keeps the signal's scale when the activation's second "
    "moment E[f(z)^2] is near 1 (LeCun et al. (1998), 'Efficient BackProp').",
    "gain": "Its gain 1 / sqrt(E[f(z)^2]) = {gain:.6f} makes unit pre-activation variance a "
    "fixed point of a deep, wide, bias-free stack, so the weights get variance gain^2 / fan_in "
    "(the mean-field view of Poole et al. (2016), 'Exponential expressivity in deep neural "
    "networks through transient chaos', and Schoenholz et al. (2017), 'Deep Information "
    "Propagation').",
}


def _family_init(
    entry: Activation, distribution: DistributionName | None, params: Mapping[str, float]
) -> Initializer:
    """The initializer of the activation's family, He's, Glorot's or LeCun's."""
    if entry.family == "he":
        slope = float(params.get("negative_slope", _default_slope(entry)))
        if distribution in (None, "normal"):
            return named.he_normal(negative_slope=slope)
        return VarianceScaling(he_scale(slope), "fan_in", distribution)
    if entry.family == "glorot":
        return VarianceScaling(1.0, "fan_avg", distribution or "uniform")
    return VarianceScaling(1.0, "fan_in", distribution or "normal")


def _default_slope(entry: Activation) -> float:
    """The default of a rectifier's ``negative_slope`` parameter (0 if it has none)."""
    if "negative_slope" not in entry.parameters:
        return 0.0
    return float(inspect.signature(entry.function).parameters["negative_slope"].default)


def recommend(
    activation: object = "relu",
    *,
    distribution: DistributionName | None = None,
    **params: Any,
) -> Initializer:
    """The initializer to use with ``activation``, following the literature.

    - ``relu`` -> ``he_normal()``; ``leaky_relu`` -> ``he_normal(negative_slope=a)``
      (He et al. 2015);
    - ``tanh``, ``sigmoid``, ``linear`` -> ``glorot_uniform()`` (Glorot & Bengio 2010);
    - ``selu`` -> ``lecun_normal()`` (Klambauer et al. 2017);
    - any other activation -> ``lecun_normal(gain=name)``: variance ``gain**2 / fan_in``
      with the activation's second-moment :func:`gain`; with parameters or for a callable,
      the same variance as ``variance_scaling(gain**2, "fan_in", "normal")``;
    - a registered activation -> what its ``family`` (or ``recommend``) says, as given to
      :func:`weightinit.register_activation`.

    Parameters
    ----------
    activation : str, callable or None
    distribution : {"normal", "uniform", "truncated_normal"}, optional
        Overrides the family's default distribution.
    **params
        The activation's parameters (``negative_slope``, ``alpha``).

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.recommend("ReLU") == wi.he_normal()
    True
    >>> wi.recommend("tanh") == wi.glorot_uniform()
    True
    >>> wi.recommend("leaky_relu", negative_slope=0.2) == wi.he_normal(negative_slope=0.2)
    True
    >>> wi.recommend("gelu")
    lecun_normal(gain='gelu')
    >>> wi.recommend("leaky_relu", negative_slope=0.2)
    he_normal(negative_slope=0.2)
    """
    if distribution is not None and distribution not in DISTRIBUTIONS:
        raise choice_error("distribution", distribution, DISTRIBUTIONS)
    name, _ = resolve(activation, params)
    if name is not None:
        entry = lookup(name)
        if entry.recommend is not None:
            chosen = entry.recommend(**params)
            if distribution is not None and "distribution" in chosen.get_config():
                return dataclasses.replace(chosen, distribution=distribution)  # type: ignore[call-arg]
            return chosen
        if entry.family != "gain":
            return _family_init(entry, distribution, params)
        if not params and distribution in (None, "normal"):
            return named.lecun_normal(gain=name)
        if not params and distribution == "uniform":
            return named.lecun_uniform(gain=name)
    g = gain(activation, **params)
    scale = g * g
    if not (math.isfinite(scale) and scale > 0.0):
        raise ValueError(
            f"the gain {g!r} of this activation gives a weight scale {scale!r} that a float64 "
            "cannot hold; check its parameters."
        )
    return VarianceScaling(scale, "fan_in", distribution or "normal")


def explain(
    activation: object = "relu",
    *,
    distribution: DistributionName | None = None,
    **params: Any,
) -> str:
    """What :func:`recommend` returns for ``activation``, why, and the caveats that matter.

    Examples
    --------
    >>> import weightinit as wi
    >>> print(wi.explain("relu"))  # doctest: +ELLIPSIS
    relu: he_normal()
    A rectifier zeroes half of its inputs, ...
    """
    init = recommend(activation, distribution=distribution, **params)
    name, _ = resolve(activation, params)
    label = name or getattr(activation, "__name__", "callable")
    g = gain(activation, **params)
    entry = lookup(name) if name is not None else None
    family = entry.family if entry is not None else "gain"
    custom = entry is not None and entry.recommend is not None
    values = _text_values(entry, str(label), g, params)
    if entry is not None and entry.reason is not None:
        reason = entry.reason
    elif custom:
        reason = "This activation was registered with its own recommendation."
    else:
        reason = _REASONS[family]
    lines = [f"{label}: {init!r}", reason.format(**values)]
    if family in ("glorot", "lecun") and not custom and abs(g - 1.0) > 1e-6:
        lines.append(
            f"Second-moment gain: {g:.6f}, shown for reference: {init!r} uses gain 1, the "
            "literature's choice for this activation."
        )
    else:
        lines.append(f"Second-moment gain: {g:.6f}.")
    caveats = entry.caveats if entry is not None else ()
    lines += [f"Caveat: {caveat.format(**values)}" for caveat in caveats]
    # The first line is the answer; each following line is a paragraph, wrapped to 88 columns.
    return "\n".join([lines[0], *(textwrap.fill(line, 88) for line in lines[1:])])


def _text_values(
    entry: Activation | None, label: str, g: float, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The values of ``TEXT_FIELDS`` for an activation's reason and caveats."""
    values: dict[str, Any] = {"name": label, "gain": g}
    if entry is not None and entry.pytorch_gain is not None:
        torch = gain(entry.name, convention="pytorch", **params)
        values.update(pytorch_gain=torch, pytorch_excess=torch / g - 1.0)
    return values
