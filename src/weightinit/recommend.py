"""Which initializer to use with an activation, and why: the literature's answer, explained.

Rectifiers get He's variance, near-linear activations Glorot's, SELU LeCun's; any other
activation or callable gets LeCun's variance times its second-moment gain, named by the
activation (``lecun_normal(gain='gelu')``).
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from collections.abc import Mapping
from typing import Any

from weightinit import named
from weightinit._errors import choice_error
from weightinit.activations import gain
from weightinit.activations import lookup
from weightinit.activations import resolve
from weightinit.families import DISTRIBUTIONS
from weightinit.families import DistributionName
from weightinit.families import VarianceScaling
from weightinit.families import he_scale
from weightinit.initializers import Initializer

__all__ = ["explain", "recommend"]

_FAMILIES: dict[str, str] = {
    "relu": "he",
    "leaky_relu": "he",
    "tanh": "glorot",
    "sigmoid": "glorot",
    "linear": "glorot",
    "selu": "lecun",
}


def _family_init(
    name: str, distribution: DistributionName | None, params: Mapping[str, float]
) -> Initializer:
    family = _FAMILIES[name]
    if family == "he":
        slope = float(params.get("negative_slope", 0.01 if name == "leaky_relu" else 0.0))
        if distribution in (None, "normal"):
            return named.he_normal(negative_slope=slope)
        return VarianceScaling(he_scale(slope), "fan_in", distribution)
    if family == "glorot":
        return VarianceScaling(1.0, "fan_avg", distribution or "uniform")
    return VarianceScaling(1.0, "fan_in", distribution or "normal")


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
      the same variance as ``variance_scaling(gain**2, "fan_in", "normal")``.

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
        custom = lookup(name).recommend
        if custom is not None:
            chosen = custom(**params)
            if distribution is not None and "distribution" in chosen.get_config():
                return dataclasses.replace(chosen, distribution=distribution)  # type: ignore[call-arg]
            return chosen
        if name in _FAMILIES:
            return _family_init(name, distribution, params)
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


_CITATIONS = {
    "he": "He et al. (2015), 'Delving Deep into Rectifiers'",
    "glorot": "Glorot & Bengio (2010), 'Understanding the difficulty of training deep "
    "feedforward neural networks'",
    "lecun": "Klambauer et al. (2017), 'Self-Normalizing Neural Networks'",
}


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
    lines = [f"{label}: {init!r}"]
    family = _FAMILIES.get(name or "")
    custom = name is not None and lookup(name).recommend is not None
    if custom:
        lines.append("This activation was registered with its own recommendation.")
    elif family == "he":
        lines.append(
            "A rectifier zeroes half of its inputs, so E[f(z)^2] = (1 + a^2) / 2 and weights "
            "of variance 2 / ((1 + a^2) fan_in) keep the signal's scale through depth "
            f"({_CITATIONS['he']})."
        )
    elif family == "glorot":
        lines.append(
            "Near zero this activation is close to linear, and Glorot's variance "
            "2 / (fan_in + fan_out) balances the forward signal and the backward gradient "
            f"({_CITATIONS['glorot']})."
        )
    elif family == "lecun":
        lines.append(
            "SELU's constants make N(0, 1) a stable fixed point when weights have variance "
            f"1 / fan_in ({_CITATIONS['lecun']})."
        )
    else:
        lines.append(
            f"Its gain 1 / sqrt(E[f(z)^2]) = {g:.6f} makes unit pre-activation variance a "
            "fixed point of a deep, wide, bias-free stack, so the weights get variance "
            "gain^2 / fan_in (the mean-field view of Poole et al. (2016), 'Exponential "
            "expressivity in deep neural networks through transient chaos', and Schoenholz "
            "et al. (2017), 'Deep Information Propagation')."
        )
    if family in ("glorot", "lecun") and not custom and abs(g - 1.0) > 1e-6:
        lines.append(
            f"Second-moment gain: {g:.6f}, shown for reference: {init!r} uses gain 1, the "
            "literature's choice for this activation."
        )
    else:
        lines.append(f"Second-moment gain: {g:.6f}.")
    if name == "sigmoid":
        lines.append(
            "Caveat: sigmoid is not zero-centred (its mean is 1/2), so no gain keeps the signal "
            "alive through depth; prefer tanh or a rectifier in deep stacks."
        )
    if name == "tanh":
        lines.append(
            f"Caveat: PyTorch's tanh gain 5/3 sits {5 / 3 / g - 1:.1%} above this fixed-point "
            "gain, which pushes tanh towards saturation in deep stacks."
        )
    if name in ("gelu", "gelu_tanh", "silu", "mish"):
        lines.append(
            "Caveat: for this activation the unit-variance fixed point is unstable without "
            "normalisation or residual connections: small deviations grow with depth."
        )
    # The first line is the answer; each following line is a paragraph, wrapped to 88 columns.
    return "\n".join([lines[0], *(textwrap.fill(line, 88) for line in lines[1:])])
