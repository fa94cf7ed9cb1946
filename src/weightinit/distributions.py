"""What an element-wise initializer draws each element from: its law, moments and bounds.

A distribution knows its mean, variance and the largest magnitude it can produce, checks
that a dtype can hold it, and writes any region of a tensor through the engine's portable
kernels. Initializers compute one from a weight's shape and fans; no other module needs to
know which kind of distribution it holds.
"""

from __future__ import annotations

import abc
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit._engine import kernels
from weightinit._engine.run import Request
from weightinit._engine.run import compute_type
from weightinit.seeds import SeedLike
from weightinit.seeds import root_key

__all__ = [
    "TRUNCATION_STD",
    "ConstantDistribution",
    "Distribution",
    "NormalDistribution",
    "TruncatedNormalDistribution",
    "UndefinedDistribution",
    "UniformDistribution",
    "check_representable",
    "truncated_variance",
]

Array = npt.NDArray[Any]

#: Standard deviation of a standard normal truncated to [-2, 2]. Dividing by it makes a
#: normal cut at two standard deviations keep the target variance (the Keras convention).
TRUNCATION_STD = 0.87962566103423978


def truncated_variance(bound: float) -> float:
    """Variance of a standard normal truncated to ``[-bound, bound]``.

    ``1 - 2 b phi(b) / (2 Phi(b) - 1)`` cancels badly for small ``b``; there the ratio of
    the series of ``int x^2 exp(-x^2/2)`` and ``int exp(-x^2/2)`` over ``[-b, b]`` is used.

    >>> round(truncated_variance(2.0), 12) == round(TRUNCATION_STD**2, 12)
    True
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


def check_representable(
    value: float, dtype: np.dtype[Any], scale: float | None = None, centre: float = 0.0
) -> None:
    """Raise unless magnitudes up to ``value`` fit ``dtype`` and ``scale`` does not vanish in it.

    ``scale`` is the spread of a random initializer (or a constant's value): if it is
    non-zero but rounds to zero in ``dtype``, every value would silently be the same; and a
    spread far below the spacing of floats near ``centre`` would be lost the same way.
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


class Distribution(abc.ABC):
    """The law of every element of a weight: what element-wise initializers draw from."""

    #: Element-wise: any region is made alone, bit-identical to the same slice of the whole.
    elementwise = True

    @abc.abstractmethod
    def mean(self) -> float:
        """The expected value of each element."""

    @abc.abstractmethod
    def variance(self) -> float:
        """The variance of each element."""

    @abc.abstractmethod
    def largest_magnitude(self, dtype: npt.DTypeLike = np.float64) -> float:
        """An upper bound on ``|value|`` over everything this draws in ``dtype``."""

    @abc.abstractmethod
    def check(self, dtype: np.dtype[Any]) -> None:
        """Raise ``ValueError`` if ``dtype`` cannot hold these values or loses their spread."""

    @abc.abstractmethod
    def request(
        self, out: Array, seed: SeedLike, shape: tuple[int, ...], ranges: list[range]
    ) -> Request:
        """The engine's request for ``full[ranges]`` of a ``shape`` weight drawn with ``seed``,
        written into ``out``; requests of many weights are made together by
        :func:`weightinit._engine.run.generate`."""


class _Random(Distribution):
    """A law drawn through one of the engine's portable kernels."""

    @abc.abstractmethod
    def _spread(self) -> float:
        """The scale of the random part, which must not vanish in the output dtype."""

    @abc.abstractmethod
    def _law(self) -> kernels.Law:
        """The law as the engine's kernels see it."""

    def check(self, dtype: np.dtype[Any]) -> None:
        check_representable(self.largest_magnitude(dtype), dtype, self._spread(), self.mean())

    def request(
        self, out: Array, seed: SeedLike, shape: tuple[int, ...], ranges: list[range]
    ) -> Request:
        return Request(out, self._law(), root_key(seed), shape, ranges)


@dataclass(frozen=True)
class ConstantDistribution(Distribution):
    """Every element equals ``value``."""

    value: float

    def mean(self) -> float:
        return self.value

    def variance(self) -> float:
        return 0.0

    def largest_magnitude(self, dtype: npt.DTypeLike = np.float64) -> float:
        return abs(self.value)

    def check(self, dtype: np.dtype[Any]) -> None:
        # The value itself must not round to zero; there is no spread around it to lose.
        check_representable(abs(self.value), dtype, self.value)

    def request(
        self, out: Array, seed: SeedLike, shape: tuple[int, ...], ranges: list[range]
    ) -> Request:
        # No stream is drawn: the seed is not even resolved (a Generator is not advanced).
        return Request(out, kernels.Law("constant", loc=self.value), None, shape, ranges)


@dataclass(frozen=True)
class NormalDistribution(_Random):
    """``N(mean, std**2)``."""

    loc: float
    std: float

    def mean(self) -> float:
        return self.loc

    def variance(self) -> float:
        return self.std * self.std

    def largest_magnitude(self, dtype: npt.DTypeLike = np.float64) -> float:
        limit = kernels.NORMAL_LIMIT[np.dtype(compute_type(np.dtype(dtype))).itemsize]
        return abs(self.loc) + limit * 1.0001 * self.std

    def _spread(self) -> float:
        return self.std

    def _law(self) -> kernels.Law:
        return kernels.Law("normal", loc=self.loc, scale=self.std)


@dataclass(frozen=True)
class UniformDistribution(_Random):
    """``U(low, high)``; values never leave ``[low, high]``."""

    low: float
    high: float

    def mean(self) -> float:
        return self.low + (self.high - self.low) / 2.0

    def variance(self) -> float:
        width = self.high - self.low
        return width * width / 12.0

    def largest_magnitude(self, dtype: npt.DTypeLike = np.float64) -> float:
        return max(abs(self.low), abs(self.high))

    def _spread(self) -> float:
        return self.high - self.low

    def _law(self) -> kernels.Law:
        return kernels.Law("uniform", low=self.low, high=self.high)


@dataclass(frozen=True)
class TruncatedNormalDistribution(_Random):
    """``N(loc, std**2)`` conditioned on ``|x - loc| <= bound * std``."""

    loc: float
    std: float
    bound: float

    def mean(self) -> float:
        return self.loc

    def variance(self) -> float:
        return self.std * self.std * truncated_variance(self.bound)

    def largest_magnitude(self, dtype: npt.DTypeLike = np.float64) -> float:
        return abs(self.loc) + self.bound * self.std

    def _spread(self) -> float:
        return self.std * min(self.bound, 1.0)

    def _law(self) -> kernels.Law:
        return kernels.Law("truncated", loc=self.loc, scale=self.std, cut=self.bound)


@dataclass(frozen=True)
class UndefinedDistribution(Distribution):
    """No law: the weight's shape leaves it undefined (a fan of zero). A weight with no
    element is still made (it is empty); anything else raises ``ValueError(reason)``."""

    reason: str

    def mean(self) -> float:
        raise ValueError(self.reason)

    def variance(self) -> float:
        raise ValueError(self.reason)

    def largest_magnitude(self, dtype: npt.DTypeLike = np.float64) -> float:
        raise ValueError(self.reason)

    def check(self, dtype: np.dtype[Any]) -> None:
        raise ValueError(self.reason)

    def request(
        self, out: Array, seed: SeedLike, shape: tuple[int, ...], ranges: list[range]
    ) -> Request:
        raise ValueError(self.reason)


#: The names these classes had before they were told apart from the initializer classes.
_FORMER = {
    "Constant": "ConstantDistribution",
    "Normal": "NormalDistribution",
    "Uniform": "UniformDistribution",
    "TruncatedNormal": "TruncatedNormalDistribution",
    "Undefined": "UndefinedDistribution",
}


def __getattr__(name: str) -> Any:
    """The former names, with a ``DeprecationWarning`` that gives the new one."""
    if name in _FORMER:
        warnings.warn(
            f"weightinit.distributions.{name} is now {_FORMER[name]} (the initializer classes "
            "keep the plain names).",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[_FORMER[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
