"""The element-wise families: constants, plain normal, uniform and truncated normal draws, and
the variance-scaling core that every fan-scaled preset is a value of.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from weightinit._errors import choice_error
from weightinit._errors import real
from weightinit._errors import shape_hint
from weightinit.distributions import TRUNCATION_STD
from weightinit.distributions import ConstantDistribution
from weightinit.distributions import Distribution
from weightinit.distributions import NormalDistribution
from weightinit.distributions import TruncatedNormalDistribution
from weightinit.distributions import UndefinedDistribution
from weightinit.distributions import UniformDistribution
from weightinit.initializers import Initializer
from weightinit.initializers import Weight

__all__ = [
    "DISTRIBUTIONS",
    "MODES",
    "Constant",
    "ScaledNormal",
    "TruncatedNormal",
    "Uniform",
    "VarianceScaling",
    "constant",
    "gain_scale",
    "he_scale",
    "normal",
    "ones",
    "scaled_normal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "zeros",
]

Mode = Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
DistributionName = Literal["normal", "uniform", "truncated_normal"]

MODES: tuple[str, ...] = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS: tuple[str, ...] = ("normal", "uniform", "truncated_normal")


def _check_choice(what: str, value: object, choices: tuple[str, ...]) -> str:
    if isinstance(value, str) and value in choices:
        return str(value)
    raise choice_error(what, value, choices)


@dataclass(frozen=True)
class Constant(Initializer):
    """Every element equals ``value``. See :func:`constant`, :func:`zeros`, :func:`ones`."""

    value: float = 0.0
    _name = "constant"
    _positional = 1
    _public = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", real("value", self.value))

    def _recipe(self, weight: Weight) -> Distribution:
        return ConstantDistribution(self.value)

    def _call(self) -> str:
        if self.value == 0.0 and math.copysign(1.0, self.value) > 0:
            return "zeros()"
        if self.value == 1.0:
            return "ones()"
        return f"constant({self.value!r})"


@dataclass(frozen=True)
class ScaledNormal(Initializer):
    """``N(mean, stddev**2)`` regardless of shape. See :func:`scaled_normal`."""

    stddev: float = 0.01
    mean: float = 0.0
    _name = "scaled_normal"
    _factory = "normal"
    _positional = 1
    _public = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "stddev", real("stddev", self.stddev, positive=True))
        object.__setattr__(self, "mean", real("mean", self.mean))

    def _recipe(self, weight: Weight) -> Distribution:
        return NormalDistribution(self.mean, self.stddev)


@dataclass(frozen=True)
class Uniform(Initializer):
    """``U(low, high)`` regardless of shape. See :func:`uniform`."""

    low: float = -0.05
    high: float = 0.05
    _name = "uniform"
    _positional = 2
    _public = True

    def __post_init__(self) -> None:
        low, high = real("low", self.low), real("high", self.high)
        if not low < high:
            raise ValueError(f"uniform needs low < high; got low={low!r}, high={high!r}.")
        if not math.isfinite(high - low):
            raise ValueError(
                f"uniform needs a finite width high - low; got low={low!r}, high={high!r}."
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def _recipe(self, weight: Weight) -> Distribution:
        return UniformDistribution(self.low, self.high)


@dataclass(frozen=True)
class TruncatedNormal(Initializer):
    """``N(mean, stddev**2)`` cut to ``mean ± bound * stddev``. See :func:`truncated_normal`."""

    stddev: float = 0.05
    mean: float = 0.0
    bound: float = 2.0
    _name = "truncated_normal"
    _positional = 1
    _public = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "stddev", real("stddev", self.stddev, positive=True))
        object.__setattr__(self, "mean", real("mean", self.mean))
        object.__setattr__(self, "bound", real("bound", self.bound, positive=True))

    def _recipe(self, weight: Weight) -> Distribution:
        return TruncatedNormalDistribution(self.mean, self.stddev, self.bound)


# --------------------------------------------------------------------------- variance scaling


def gain_scale(gain: float) -> float:
    """The scale ``gain**2`` of a LeCun or Glorot preset with a numeric gain."""
    value = real("gain", gain, positive=True)
    squared = value * value
    if not (math.isfinite(squared) and squared > 0.0):
        raise ValueError(f"gain**2 must be positive and finite; got gain={gain!r}.")
    return squared


def he_scale(negative_slope: float) -> float:
    """The scale ``2 / (1 + a**2)`` of a He preset with negative slope ``a``."""
    slope = real("negative_slope", negative_slope)
    scale = 2.0 / (1.0 + slope * slope)
    if not scale > 0.0:
        raise ValueError(
            f"negative_slope={negative_slope!r} is so large that 2 / (1 + a**2) underflows to 0."
        )
    return scale


def _short(value: float, fits: float, formula: Callable[[float], float]) -> str | None:
    """The shortest decimal (at most 6 significant digits) ``x`` with ``formula(x) == fits``."""
    for digits in range(1, 7):
        candidate = float(f"{value:.{digits}g}")
        try:
            if formula(candidate) == fits:
                return repr(candidate)
        except ValueError:
            return None
    return None


def _preset_calls(scale: float, mode: str, distribution: str) -> list[str]:
    """Calls of the named presets (``he_*``, ``lecun_*``, ``glorot_*``) equal to this core."""
    if distribution not in ("normal", "uniform"):
        return []
    calls = []
    if mode in ("fan_in", "fan_out") and scale <= 2.0:
        slope = _short(math.sqrt(2.0 / scale - 1.0), scale, he_scale)
        if slope is not None:
            args = [] if float(slope) == 0.0 else [f"negative_slope={slope}"]
            args += [] if mode == "fan_in" else ["mode='fan_out'"]
            calls.append(f"he_{distribution}({', '.join(args)})")
    family = {"fan_in": "lecun", "fan_avg": "glorot"}.get(mode)
    if family is not None:
        gain = _short(math.sqrt(scale), scale, gain_scale)
        if gain is not None:
            shown = "" if float(gain) == 1.0 else f"gain={gain}"
            calls.append(f"{family}_{distribution}({shown})")
    return calls


@dataclass(frozen=True)
class VarianceScaling(Initializer):
    """Zero-mean values of variance ``scale / fan``. See :func:`variance_scaling`.

    It prints as the shortest named preset that makes it (``he_normal()``,
    ``he_normal(negative_slope=0.01)``, ``glorot_uniform()``), else as the
    ``variance_scaling(...)`` call; a preset made from an activation's gain or a framework's
    default prints as that call (``lecun_normal(gain='gelu')``). Equality and hashing look at
    ``(scale, mode, distribution)`` only.
    """

    scale: float = 1.0
    mode: Mode = "fan_in"
    distribution: DistributionName = "truncated_normal"
    _name = "variance_scaling"
    _positional = 3
    _public = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", real("scale", self.scale, positive=True))
        _check_choice("mode", self.mode, MODES)
        _check_choice("distribution", self.distribution, DISTRIBUTIONS)

    def target_variance(self, weight: Weight) -> float:
        """``scale / fan`` for the fan that ``mode`` names (``ValueError`` if it is zero)."""
        fan = self._fan(weight)
        if fan == 0.0:
            raise ValueError(self._no_fan(weight))
        return self.scale / fan

    def _fan(self, weight: Weight) -> float:
        """The fan that ``mode`` names (``ValueError`` where the weight has no fans)."""
        f = weight.fans
        return {
            "fan_in": float(f.fan_in),
            "fan_out": float(f.fan_out),
            "fan_avg": (f.fan_in + f.fan_out) / 2.0,
            "fan_geo_avg": math.sqrt(f.fan_in * f.fan_out),
        }[self.mode]

    def _no_fan(self, weight: Weight) -> str:
        return (
            f"shape {weight.shape} has {self.mode} = 0, so the variance scale / fan is undefined."
        )

    def _recipe(self, weight: Weight) -> Distribution:
        fan = self._fan(weight)
        if fan == 0.0:
            # Only an empty weight can have a zero fan; it is still made (empty).
            return UndefinedDistribution(self._no_fan(weight))
        variance = self.scale / fan
        std = math.sqrt(variance)
        if self.distribution == "normal":
            return NormalDistribution(0.0, std)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0) * std
            return UniformDistribution(-limit, limit)
        return TruncatedNormalDistribution(0.0, std / TRUNCATION_STD, 2.0)

    def _variance(self, weight: Weight) -> float:
        """Exactly ``scale / fan`` (the distribution's own parameters are rounded from it)."""
        return self.target_variance(weight)

    def named_call(self) -> str | None:
        """The shortest call of a named preset (``he_normal()``, ``glorot_uniform()``...)
        that makes this object, or ``None`` if no named preset does.

        >>> import weightinit as wi
        >>> wi.variance_scaling(2.0, "fan_in", "normal").named_call()
        'he_normal()'
        >>> wi.variance_scaling(1.7, "fan_avg", "uniform").named_call() is None
        True
        """
        calls = _preset_calls(self.scale, self.mode, self.distribution)
        return min(calls, key=len) if calls else None

    def _call(self) -> str:
        return self.named_call() or super()._call()


# --------------------------------------------------------------------------- factories


@shape_hint
def zeros() -> Constant:
    """All zeros: the usual bias initializer.

    Zero weights make every unit of a layer compute the same function, so gradient descent
    cannot tell them apart; use them for biases, not for weights.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.zeros()((2, 3))
    array([[0., 0., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    return Constant(0.0)


@shape_hint
def ones() -> Constant:
    """All ones.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.ones()(3, dtype="float64")
    array([1., 1., 1.])
    """
    return Constant(1.0)


@shape_hint
def constant(value: float) -> Constant:
    """Every element equals ``value``.

    Parameters
    ----------
    value : float
        A finite number that the output dtype can represent.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.constant(0.1)((2,))
    array([0.1, 0.1], dtype=float32)
    """
    return Constant(value)


@shape_hint
def normal(stddev: float = 0.01, mean: float = 0.0) -> ScaledNormal:
    """Plain ``N(mean, stddev**2)``, whatever the shape: the classic ``randn * 0.01``.

    JAX's ``normal(stddev)``, Keras' ``RandomNormal`` and PyTorch's ``normal_``; also
    available as :func:`scaled_normal` and by the names ``"normal"`` and ``"random_normal"``.

    Parameters
    ----------
    stddev : float, default 0.01
        Positive and finite.
    mean : float, default 0.0

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.normal(0.02)
    normal(0.02)
    >>> w = wi.normal(0.02)((500, 400), seed=0)
    >>> abs(float(w.std()) - 0.02) < 2e-4
    True
    >>> wi.get("random_normal") == wi.normal() == wi.scaled_normal()
    True
    """
    return ScaledNormal(stddev, mean)


@shape_hint
def scaled_normal(stddev: float = 0.01, mean: float = 0.0) -> ScaledNormal:
    """:func:`normal` under the name of the classic scaled ``randn``: the same initializer,
    with the same parameters.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.scaled_normal(0.01) == wi.normal(0.01)
    True
    """
    return ScaledNormal(stddev, mean)


@shape_hint
def uniform(low: float = -0.05, high: float = 0.05) -> Uniform:
    """``U(low, high)``, whatever the shape.

    Parameters
    ----------
    low, high : float
        Finite, with ``low < high``. Values lie in ``[low, high]`` (after rounding to the
        output dtype).

    Examples
    --------
    >>> import weightinit as wi
    >>> w = wi.uniform(0.0, 1.0)((1000,), seed=0)
    >>> bool(w.min() >= 0.0 and w.max() <= 1.0)
    True
    """
    return Uniform(low, high)


@shape_hint
def truncated_normal(
    stddev: float = 0.05, mean: float = 0.0, bound: float = 2.0
) -> TruncatedNormal:
    """``N(mean, stddev**2)`` truncated to ``mean ± bound * stddev``.

    ``stddev`` is that of the normal *before* truncation, as in PyTorch's ``trunc_normal_``
    and Keras' ``TruncatedNormal``; ``bound`` is measured in those standard deviations
    (PyTorch's bounds are absolute: ``trunc_normal_(std=s, a=-2*s, b=2*s)`` is this with
    ``bound=2``). :meth:`~Initializer.variance` gives the variance after truncation,
    ``stddev**2 * (1 - 2 b phi(b) / (2 Phi(b) - 1))``.

    Examples
    --------
    >>> import weightinit as wi
    >>> init = wi.truncated_normal(stddev=1.0)
    >>> round(init.variance((10, 10)), 6)
    0.773741
    >>> bool(abs(init((100, 100), seed=0)).max() <= 2.0)
    True
    """
    return TruncatedNormal(stddev, mean, bound)


@shape_hint
def variance_scaling(
    scale: float = 1.0,
    mode: Mode = "fan_in",
    distribution: DistributionName = "truncated_normal",
) -> VarianceScaling:
    """Zero-mean weights of variance ``scale / fan``: the core of every fan-scaled initializer.

    Parameters
    ----------
    scale : float, default 1.0
        Positive and finite.
    mode : {"fan_in", "fan_out", "fan_avg", "fan_geo_avg"}, default "fan_in"
        Which fan divides ``scale``: ``fan_avg`` is ``(fan_in + fan_out) / 2`` and
        ``fan_geo_avg`` is ``sqrt(fan_in * fan_out)``.
    distribution : {"normal", "uniform", "truncated_normal"}, default "truncated_normal"
        ``"uniform"`` is ``U(-sqrt(3 v), sqrt(3 v))``; ``"truncated_normal"`` is a normal cut
        at two standard deviations and rescaled (by 1 / 0.87962566103423978) so the result
        has exactly variance ``v``.

    Notes
    -----
    With ``v = scale / fan``, the presets are:

    ========================  =====  ========  ================
    preset                    scale  mode      distribution
    ========================  =====  ========  ================
    ``lecun_normal``          1      fan_in    normal
    ``glorot_uniform``        1      fan_avg   uniform
    ``he_normal``             2      fan_in    normal
    ========================  =====  ========  ================

    Examples
    --------
    >>> import weightinit as wi
    >>> init = wi.variance_scaling(2.0, "fan_in", "normal")
    >>> init == wi.he_normal()
    True
    >>> init.variance((512, 256))
    0.00390625
    """
    return VarianceScaling(scale, mode, distribution)
