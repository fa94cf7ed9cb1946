"""The ``Initializer`` contract, the variance-scaling core and its presets, constant families."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any
from typing import Literal

import numpy as np
import numpy.typing as npt

from weightinit import sampling
from weightinit._errors import choice_error
from weightinit._errors import real
from weightinit.fans import check_groups
from weightinit.fans import check_shape
from weightinit.fans import fans
from weightinit.fans import resolve_layout

__all__ = [
    "Constant",
    "Initializer",
    "ScaledNormal",
    "TruncatedNormal",
    "Uniform",
    "VarianceScaling",
    "constant",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
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

#: Standard deviation of a standard normal truncated to [-2, 2]. Dividing by it makes a
#: normal cut at two standard deviations keep the target variance (the Keras convention).
TRUNCATION_STD = 0.87962566103423978


def _truncated_variance(bound: float) -> float:
    """Variance of a standard normal truncated to ``[-bound, bound]``.

    ``1 - 2 b phi(b) / (2 Phi(b) - 1)`` cancels badly for small ``b``; there the ratio of
    the series of ``int x^2 exp(-x^2/2)`` and ``int exp(-x^2/2)`` over ``[-b, b]`` is used.
    """
    if bound < 1.0:
        b2 = bound * bound
        top = bottom = 0.0
        term = 1.0  # (-b^2 / 2)^k / k!
        for k in range(30):
            top += term / (2 * k + 3)
            bottom += term / (2 * k + 1)
            term *= -b2 / (2.0 * (k + 1))
        return b2 * top / bottom
    density = math.exp(-0.5 * bound * bound) / math.sqrt(2.0 * math.pi)
    mass = math.erf(bound / math.sqrt(2.0))
    return 1.0 - 2.0 * bound * density / mass


def _positive(name: str, value: object) -> float:
    return real(name, value, positive=True)


def _finite(name: str, value: object) -> float:
    return real(name, value)


def _check_choice(what: str, value: object, choices: tuple[str, ...]) -> str:
    if isinstance(value, str) and value in choices:
        return str(value)
    raise choice_error(what, value, choices)


@dataclass(frozen=True)
class Initializer:
    """Base class of every initializer: a frozen, hashable configuration.

    Subclasses describe the distribution of each element for a given shape
    (``_distribution``); this class turns it into arrays.
    """

    def _distribution(
        self, shape: tuple[int, ...], *, layout: str = "in_out", groups: int = 1
    ) -> sampling.Distribution:
        """The distribution every element of a weight of ``shape`` is drawn from."""
        raise TypeError(
            f"{type(self).__name__} does not define _distribution(); Initializer is a base "
            "class: subclass it (see weightinit.register) or use one of the factories."
        )

    def __call__(
        self,
        shape: int | Sequence[int],
        dtype: npt.DTypeLike = np.float32,
        *,
        seed: sampling.SeedLike = None,
        layout: str = "in_out",
        groups: int = 1,
        threads: int | None = None,
        region: sampling.Region = None,
    ) -> npt.NDArray[np.floating[Any]]:
        """Return a new array of ``shape`` and ``dtype`` drawn from this initializer.

        Parameters
        ----------
        shape : int or sequence of int
        dtype : float16, float32 (default) or float64
        seed : None, int, SeedSequence or Generator
            The same int or ``SeedSequence`` gives the same bytes on every call and
            platform; a ``Generator`` is advanced, so two calls with it differ.
        layout, groups
            How fans are read from the shape (see :func:`weightinit.fans`).
        threads : int, optional
            Threads to generate with; ``None`` means the usable cores (at most 8) when at
            least 2^20 elements are generated, and one thread below. The values do not
            depend on it.
        region : index expression, optional
            Return only ``full[region]`` (slices, integers, ``Ellipsis``; build it with
            ``np.s_``), generating only the tiles it touches. The values equal those of the
            full array at the same positions.
        """
        dims = check_shape(shape)
        resolved = sampling.check_dtype(dtype)
        ranges, dropped = sampling.selection(region, dims)
        out = np.empty(tuple(len(r) for r in ranges), dtype=resolved)
        self._produce(out, dims, ranges, seed, layout, groups, threads)
        if dropped:
            out = out.reshape([len(r) for a, r in enumerate(ranges) if a not in dropped])
        return out

    def fill(
        self,
        array: npt.NDArray[np.floating[Any]],
        *,
        seed: sampling.SeedLike = None,
        layout: str = "in_out",
        groups: int = 1,
        threads: int | None = None,
    ) -> npt.NDArray[np.floating[Any]]:
        """Fill ``array`` in place and return it.

        The values equal ``self(array.shape, array.dtype, seed=seed, ...)`` whatever the
        array's memory order or strides.
        """
        if not isinstance(array, np.ndarray):
            raise TypeError(f"fill needs a numpy.ndarray; got {type(array).__name__}.")
        sampling.check_dtype(array.dtype)
        if not array.flags.writeable:
            raise ValueError("fill needs a writeable array; the array given is read-only.")
        full = [range(d) for d in array.shape]
        self._produce(array, array.shape, full, seed, layout, groups, threads)
        return array

    def _produce(
        self,
        out: npt.NDArray[np.floating[Any]],
        shape: tuple[int, ...],
        ranges: list[range],
        seed: sampling.SeedLike,
        layout: str,
        groups: int,
        threads: int | None,
    ) -> None:
        """Validate everything, then write ``full[ranges]`` of a ``shape`` weight into ``out``."""
        count = self._check_call(seed, layout, groups, threads)
        if math.prod(shape) == 0:
            self._check_shape(shape, layout, groups)
            return
        dist = self._distribution(shape, layout=layout, groups=groups)
        _check_representable(
            sampling.largest_magnitude(dist, out.dtype),
            out.dtype,
            sampling.spread(dist),
            sampling.centre(dist),
        )
        if isinstance(dist, sampling.Constant):
            out[...] = dist.value
            return
        sampling.generate(out, dist, sampling.root_key(seed), shape, ranges, count)

    def _check_call(
        self, seed: sampling.SeedLike, layout: str, groups: int, threads: int | None
    ) -> int | None:
        """Validate the options every call takes; return the thread count."""
        resolve_layout(layout)
        check_groups(groups)
        sampling.check_seed(seed)
        return sampling.check_threads(threads)

    def _check_shape(self, shape: tuple[int, ...], layout: str, groups: int) -> None:
        """Raise for a shape this initializer cannot fill (checked before any work, even
        for shapes that hold no element)."""

    def variance(
        self, shape: int | Sequence[int], *, layout: str = "in_out", groups: int = 1
    ) -> float:
        """The exact variance of each element of a weight of ``shape``."""
        resolve_layout(layout)
        check_groups(groups)
        dist = self._distribution(check_shape(shape), layout=layout, groups=groups)
        if isinstance(dist, sampling.Constant):
            return 0.0
        if isinstance(dist, sampling.Normal):
            value = dist.std * dist.std
        elif isinstance(dist, sampling.Uniform):
            width = dist.high - dist.low
            value = width * width / 12.0
        else:
            value = dist.std * dist.std * _truncated_variance(dist.bound)
        return _finite_variance(value, self)

    def get_config(self) -> dict[str, Any]:
        """A JSON-serialisable dict from which :func:`weightinit.get` rebuilds this object."""
        return {"name": self._name, **asdict(self)}

    _name = "initializer"


def _finite_variance(value: float, init: Initializer) -> float:
    """``value``, or a ``ValueError`` naming ``init`` if the variance overflowed."""
    if not math.isfinite(value):
        raise ValueError(f"the variance of {init!r} overflows a float64.")
    return value


def _check_representable(
    value: float, dtype: np.dtype[Any], scale: float | None = None, centre: float = 0.0
) -> None:
    """Raise unless magnitudes up to ``value`` fit ``dtype`` and ``scale`` does not vanish in it.

    ``scale`` is the spread of a random initializer (or a constant's value): if it is
    non-zero but rounds to zero in ``dtype``, every value would silently be the same.
    """
    with np.errstate(over="ignore", under="ignore"):
        cast_value = np.asarray(value, dtype=dtype)
        cast_scale = np.asarray(scale if scale is not None else 0.0, dtype=dtype)
    if not np.isfinite(cast_value):
        raise ValueError(
            f"values of magnitude up to {value!r} cannot be represented in {dtype.name} "
            f"(largest finite value {np.finfo(dtype).max}); use a wider dtype or a smaller "
            "scale."
        )
    if scale and cast_scale == 0:
        raise ValueError(
            f"{scale!r} rounds to zero in {dtype.name} (smallest positive value "
            f"{np.finfo(dtype).smallest_subnormal}); use a wider dtype or a larger scale."
        )
    if scale and centre:
        with np.errstate(over="ignore"):  # the spacing above the largest float is inf
            step = float(np.spacing(np.abs(np.asarray(centre, dtype=dtype))))
        if math.isfinite(step) and 8.0 * abs(scale) < step / 2.0:
            raise ValueError(
                f"a spread of {scale!r} around {centre!r} is lost in {dtype.name}, whose "
                f"values near {centre!r} are {step!r} apart; every value would equal the "
                "centre. Use a wider dtype."
            )


@dataclass(frozen=True)
class Constant(Initializer):
    """Every element equals ``value``. See :func:`constant`, :func:`zeros`, :func:`ones`."""

    value: float = 0.0
    _name = "constant"

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _finite("value", self.value))

    def _distribution(
        self, shape: tuple[int, ...], *, layout: str = "in_out", groups: int = 1
    ) -> sampling.Distribution:
        return sampling.Constant(self.value)


@dataclass(frozen=True)
class ScaledNormal(Initializer):
    """``N(mean, stddev**2)`` regardless of shape. See :func:`scaled_normal`."""

    stddev: float = 0.01
    mean: float = 0.0
    _name = "scaled_normal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "stddev", _positive("stddev", self.stddev))
        object.__setattr__(self, "mean", _finite("mean", self.mean))

    def _distribution(
        self, shape: tuple[int, ...], *, layout: str = "in_out", groups: int = 1
    ) -> sampling.Distribution:
        return sampling.Normal(self.mean, self.stddev)


@dataclass(frozen=True)
class Uniform(Initializer):
    """``U(low, high)`` regardless of shape. See :func:`uniform`."""

    low: float = -0.05
    high: float = 0.05
    _name = "uniform"

    def __post_init__(self) -> None:
        low, high = _finite("low", self.low), _finite("high", self.high)
        if not low < high:
            raise ValueError(f"uniform needs low < high; got low={low!r}, high={high!r}.")
        if not math.isfinite(high - low):
            raise ValueError(
                f"uniform needs a finite width high - low; got low={low!r}, high={high!r}."
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def _distribution(
        self, shape: tuple[int, ...], *, layout: str = "in_out", groups: int = 1
    ) -> sampling.Distribution:
        return sampling.Uniform(self.low, self.high)


@dataclass(frozen=True)
class TruncatedNormal(Initializer):
    """``N(mean, stddev**2)`` cut to ``mean ± bound * stddev``. See :func:`truncated_normal`."""

    stddev: float = 0.05
    mean: float = 0.0
    bound: float = 2.0
    _name = "truncated_normal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "stddev", _positive("stddev", self.stddev))
        object.__setattr__(self, "mean", _finite("mean", self.mean))
        object.__setattr__(self, "bound", _positive("bound", self.bound))

    def _distribution(
        self, shape: tuple[int, ...], *, layout: str = "in_out", groups: int = 1
    ) -> sampling.Distribution:
        return sampling.TruncatedNormal(self.mean, self.stddev, self.bound)


@dataclass(frozen=True)
class VarianceScaling(Initializer):
    """Zero-mean values of variance ``scale / fan``. See :func:`variance_scaling`."""

    scale: float = 1.0
    mode: Mode = "fan_in"
    distribution: DistributionName = "truncated_normal"
    _name = "variance_scaling"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _positive("scale", self.scale))
        _check_choice("mode", self.mode, MODES)
        _check_choice("distribution", self.distribution, DISTRIBUTIONS)

    def _check_shape(self, shape: tuple[int, ...], layout: str, groups: int) -> None:
        fans(shape, layout=layout, groups=groups)

    def target_variance(
        self, shape: tuple[int, ...], *, layout: str = "in_out", groups: int = 1
    ) -> float:
        """``scale / fan`` for the fan that ``mode`` names."""
        f = fans(shape, layout=layout, groups=groups)
        fan = {
            "fan_in": float(f.fan_in),
            "fan_out": float(f.fan_out),
            "fan_avg": (f.fan_in + f.fan_out) / 2.0,
            "fan_geo_avg": math.sqrt(f.fan_in * f.fan_out),
        }[self.mode]
        if fan == 0.0:
            raise ValueError(
                f"shape {shape} has {self.mode} = 0, so the variance scale / fan is undefined."
            )
        return self.scale / fan

    def _distribution(
        self, shape: tuple[int, ...], *, layout: str = "in_out", groups: int = 1
    ) -> sampling.Distribution:
        std = math.sqrt(self.target_variance(shape, layout=layout, groups=groups))
        if self.distribution == "normal":
            return sampling.Normal(0.0, std)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0) * std
            return sampling.Uniform(-limit, limit)
        return sampling.TruncatedNormal(0.0, std / TRUNCATION_STD, 2.0)

    def variance(
        self, shape: int | Sequence[int], *, layout: str = "in_out", groups: int = 1
    ) -> float:
        return self.target_variance(check_shape(shape), layout=layout, groups=groups)


# --------------------------------------------------------------------------- factories


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


def ones() -> Constant:
    """All ones.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.ones()(3, dtype="float64")
    array([1., 1., 1.])
    """
    return Constant(1.0)


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


def scaled_normal(stddev: float = 0.01, mean: float = 0.0) -> ScaledNormal:
    """Plain ``N(mean, stddev**2)``, whatever the shape: the classic ``randn * 0.01``.

    Parameters
    ----------
    stddev : float, default 0.01
        Positive and finite.
    mean : float, default 0.0

    Examples
    --------
    >>> import weightinit as wi
    >>> w = wi.scaled_normal(0.01)((500, 400), seed=0)
    >>> abs(float(w.std()) - 0.01) < 1e-4
    True
    """
    return ScaledNormal(stddev, mean)


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


def _gain_squared(gain: float | str) -> float:
    if isinstance(gain, str):
        # A name asks for that activation's second-moment gain; imported here because
        # activations build on initializers, not the other way round.
        from weightinit.activations import gain as activation_gain

        return activation_gain(gain) ** 2
    value = _positive("gain", gain)
    squared = value * value
    if not (math.isfinite(squared) and squared > 0.0):
        raise ValueError(f"gain**2 must be positive and finite; got gain={gain!r}.")
    return squared


def lecun_normal(gain: float | str = 1.0) -> VarianceScaling:
    """LeCun normal: ``N(0, gain**2 / fan_in)`` (LeCun et al. 1998, "Efficient BackProp").

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.lecun_normal()
    VarianceScaling(scale=1.0, mode='fan_in', distribution='normal')
    """
    return VarianceScaling(_gain_squared(gain), "fan_in", "normal")


def lecun_uniform(gain: float | str = 1.0) -> VarianceScaling:
    """LeCun uniform: variance ``gain**2 / fan_in``, ``U(±sqrt(3 gain**2 / fan_in))``.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.lecun_uniform().variance((300, 10))  # doctest: +ELLIPSIS
    0.00333...
    """
    return VarianceScaling(_gain_squared(gain), "fan_in", "uniform")


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
    return VarianceScaling(_gain_squared(gain), "fan_avg", "normal")


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
    return VarianceScaling(_gain_squared(gain), "fan_avg", "uniform")


def _he(negative_slope: float, mode: Mode, distribution: DistributionName) -> VarianceScaling:
    slope = _finite("negative_slope", negative_slope)
    scale = 2.0 / (1.0 + slope * slope)
    if not scale > 0.0:
        raise ValueError(
            f"negative_slope={negative_slope!r} is so large that 2 / (1 + a**2) underflows to 0."
        )
    return VarianceScaling(scale, mode, distribution)


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
    return _he(negative_slope, mode, "normal")


def he_uniform(negative_slope: float = 0.0, mode: Mode = "fan_in") -> VarianceScaling:
    """He (Kaiming) uniform: ``U(±sqrt(6 / ((1 + a**2) fan)))``. Alias: ``kaiming_uniform``.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.he_uniform(negative_slope=1.0) == wi.variance_scaling(1.0, "fan_in", "uniform")
    True
    """
    return _he(negative_slope, mode, "uniform")
