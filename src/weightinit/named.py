"""The named fan-scaled presets: LeCun, Glorot (Xavier) and He (Kaiming), normal and uniform.

Each is a value of the variance-scaling core and compares equal to it; a gain may be a number
or the name of an activation, whose second-moment gain (:func:`weightinit.gain`) is used.
"""

from __future__ import annotations

from weightinit._activations import gain as activation_gain
from weightinit._errors import shape_hint
from weightinit.families import DistributionName
from weightinit.families import Mode
from weightinit.families import VarianceScaling
from weightinit.families import gain_scale
from weightinit.families import he_scale
from weightinit.initializers import labelled

__all__ = [
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
]


def _gained(
    family: str, gain: float | str, mode: Mode, distribution: DistributionName
) -> VarianceScaling:
    """The ``family`` preset with ``gain``; a named gain is kept in the repr."""
    if isinstance(gain, str):
        g = activation_gain(gain)
        scale = g * g
        init = VarianceScaling(scale, mode, distribution)
        return labelled(init, f"{family}_{distribution}(gain={gain!r})")
    return VarianceScaling(gain_scale(gain), mode, distribution)


@shape_hint
def lecun_normal(gain: float | str = 1.0) -> VarianceScaling:
    """LeCun normal: ``N(0, gain**2 / fan_in)`` (LeCun et al. 1998, "Efficient BackProp").

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.lecun_normal(), wi.lecun_normal(gain=2.0)
    (lecun_normal(), lecun_normal(gain=2.0))
    >>> wi.lecun_normal(gain="gelu")     # an activation's second-moment gain, kept by name
    lecun_normal(gain='gelu')
    """
    return _gained("lecun", gain, "fan_in", "normal")


@shape_hint
def lecun_uniform(gain: float | str = 1.0) -> VarianceScaling:
    """LeCun uniform: variance ``gain**2 / fan_in``, ``U(±sqrt(3 gain**2 / fan_in))``.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.lecun_uniform().variance((300, 10))  # doctest: +ELLIPSIS
    0.00333...
    """
    return _gained("lecun", gain, "fan_in", "uniform")


@shape_hint
def glorot_normal(gain: float | str = 1.0) -> VarianceScaling:
    """Glorot (Xavier) normal: ``N(0, 2 gain**2 / (fan_in + fan_out))``.

    Reference: Glorot & Bengio (2010), "Understanding the difficulty of training deep
    feedforward neural networks". Alias: ``xavier_normal``.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.glorot_normal().variance((300, 100))
    0.005
    """
    return _gained("glorot", gain, "fan_avg", "normal")


@shape_hint
def glorot_uniform(gain: float | str = 1.0) -> VarianceScaling:
    """Glorot (Xavier) uniform: ``U(±gain * sqrt(6 / (fan_in + fan_out)))``.

    Reference: Glorot & Bengio (2010). Alias: ``xavier_uniform``.

    Examples
    --------
    >>> import weightinit as wi
    >>> w = wi.glorot_uniform()((300, 100), seed=1)
    >>> bool(abs(w).max() <= (6 / 400) ** 0.5)
    True
    """
    return _gained("glorot", gain, "fan_avg", "uniform")


@shape_hint
def he_normal(negative_slope: float = 0.0, mode: Mode = "fan_in") -> VarianceScaling:
    """He (Kaiming) normal: ``N(0, 2 / ((1 + a**2) fan))``, ``a`` the negative slope.

    Reference: He et al. (2015), "Delving Deep into Rectifiers". Alias: ``kaiming_normal``.
    As in the paper and PyTorch, the normal is not truncated.

    Examples
    --------
    >>> import weightinit as wi
    >>> w = wi.he_normal()((784, 256), seed=0)
    >>> w.shape, w.dtype
    ((784, 256), dtype('float32'))
    >>> abs(float(w.std()) - (2 / 784) ** 0.5) < 1e-3
    True
    """
    return VarianceScaling(he_scale(negative_slope), mode, "normal")


@shape_hint
def he_uniform(negative_slope: float = 0.0, mode: Mode = "fan_in") -> VarianceScaling:
    """He (Kaiming) uniform: ``U(±sqrt(6 / ((1 + a**2) fan)))``. Alias: ``kaiming_uniform``.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.he_uniform(negative_slope=1.0) == wi.variance_scaling(1.0, "fan_in", "uniform")
    True
    """
    return VarianceScaling(he_scale(negative_slope), mode, "uniform")
