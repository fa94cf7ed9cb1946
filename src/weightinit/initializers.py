"""The initializer contract: a frozen configuration that says what it draws or how it builds.

Every initializer answers one question, :meth:`Initializer._recipe`: for a weight of this shape,
layout and groups, either the :class:`~weightinit.distributions.Distribution` each element is
drawn from (element-wise initializers), or a :class:`Builder` that makes the whole weight
(structured ones). This class does the rest: validation, dtypes, regions, threads, filling
in place, moments, configs and the repr, which is the public call that makes the object.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import ClassVar
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from weightinit._engine.run import Request
from weightinit._engine.run import assign
from weightinit._engine.run import generate
from weightinit._engine.tiles import Region
from weightinit._engine.tiles import selection
from weightinit._errors import check_dtype
from weightinit._errors import check_threads
from weightinit._fans import Weight
from weightinit.distributions import Distribution
from weightinit.seeds import SeedLike
from weightinit.seeds import check_seed

__all__ = [
    "Builder",
    "Initializer",
    "Prepared",
    "Weight",
    "checked_recipe",
    "labelled",
    "write_all",
]

Array = npt.NDArray[Any]
InitializerT = TypeVar("InitializerT", bound="Initializer")
FloatArray = npt.NDArray[np.floating[Any]]


@dataclass(frozen=True)
class Builder:
    """How a structured weight is made: whole, by ``build(dtype, seed, threads)``, which
    returns it with its axes in the order ``axes`` (the weight's canonical order
    ``(out, in, *kernel)``, or its explicit output axes, input axes and the rest:
    :attr:`Weight.axes`), so that every layout gets the same values.

    ``like`` is a distribution whose range and spread the values share, for the dtype checks
    (e.g. ``Constant(gain)`` for an orthogonal weight). ``moments`` is ``(mean, variance)``
    when every element shares them, else ``None`` with ``reason`` saying why not.
    """

    build: Callable[[np.dtype[Any], SeedLike, int | None], Array]
    like: Distribution
    axes: tuple[int, ...]
    moments: tuple[float, float] | None = None
    reason: str = ""

    #: Built whole: a region is cut from the whole weight.
    elementwise = False

    def mean(self) -> float:
        """The expected value of each element, or ``ValueError`` if they differ."""
        if self.moments is None:
            raise ValueError(self.reason)
        return self.moments[0]

    def variance(self) -> float:
        """The variance of each element, or ``ValueError`` if they differ."""
        if self.moments is None:
            raise ValueError(self.reason)
        return self.moments[1]

    def check(self, dtype: np.dtype[Any]) -> None:
        """Raise ``ValueError`` if ``dtype`` cannot hold the values."""
        self.like.check(dtype)

    def write(
        self,
        out: Array,
        seed: SeedLike,
        shape: tuple[int, ...],
        ranges: list[range],
        threads: int | None,
    ) -> None:
        """Build the whole weight and write ``whole[ranges]`` into ``out``."""
        whole = self.build(out.dtype, seed, threads).transpose(np.argsort(self.axes))
        if all(r == range(d) for r, d in zip(ranges, shape, strict=True)):
            assign(out, whole)
        else:
            out[...] = whole[np.ix_(*[np.arange(r.start, r.stop, r.step) for r in ranges])]


@dataclass(frozen=True)
class Prepared:
    """A validated write of ``size`` elements: an engine request (element-wise weights,
    made together with others), a call that builds the weight given a thread count
    (structured ones), or neither (an empty weight)."""

    size: int
    request: Request | None = None
    build: Callable[[int | None], None] | None = None
    #: Run after the request is drawn (to move values from a scratch array into place).
    finish: Callable[[], None] | None = None


def write_all(
    work: Sequence[Prepared],
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Do every prepared write: the element-wise ones in one run of the engine (tiles of all
    of them share batches and threads), then the structured ones. ``progress`` is called
    with each finished number of elements."""
    requests = [w.request for w in work if w.request is not None]
    if requests:
        generate(requests, threads, progress)
    for w in work:
        if w.finish is not None:
            w.finish()
    for w in work:
        if w.build is not None:
            w.build(threads)
            if progress is not None:
                progress(w.size)


_PARAMETER_NAMES: dict[type, tuple[str, ...]] = {}


def _parameter_names(kind: type) -> tuple[str, ...]:
    """The constructor parameters of an initializer class, in order."""
    names = _PARAMETER_NAMES.get(kind)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(kind) if f.init)
        _PARAMETER_NAMES[kind] = names
    return names


def _depthwise(
    recipe: Distribution, out: FloatArray, weight: Weight, ranges: list[range], seed: SeedLike
) -> Prepared:
    """A depthwise kernel ``(*kernel, in, multiplier)`` is drawn as PyTorch stores the same
    layer's weight, ``(in * multiplier, 1, *kernel)`` (output channel ``c * multiplier + m``),
    whole, into a scratch array; the values then go into ``out``."""
    in_axis, out_axis = weight.in_axis, weight.out_axis
    kernel = [a for a in range(len(weight.shape)) if a not in (in_axis, out_axis)]
    order = (in_axis, out_axis, *kernel)
    channels = weight.shape[in_axis] * weight.shape[out_axis]
    drawn = (channels, 1, *(weight.shape[a] for a in kernel))
    scratch = np.empty(drawn, dtype=out.dtype)
    request = recipe.request(scratch, seed, drawn, [range(d) for d in drawn])

    def finish() -> None:
        grouped = scratch.reshape([weight.shape[a] for a in order])
        whole = grouped.transpose(np.argsort(order))
        out[...] = whole[np.ix_(*[np.arange(r.start, r.stop, r.step) for r in ranges])]

    return Prepared(out.size, request=request, finish=finish)


def _exact(value: object) -> object:
    """``value``, with floats as their exact hex form (so ``-0.0`` and ``0.0`` differ)."""
    return value.hex() if isinstance(value, float) else value


def _recipe_uncached(
    init: Initializer, weight: Weight, dtype: np.dtype[Any]
) -> Distribution | Builder:
    recipe = init._recipe(weight)
    if weight.size:
        recipe.check(dtype)
    return recipe


def checked_recipe(
    init: Initializer, weight: Weight, dtype: np.dtype[Any]
) -> Distribution | Builder:
    """``init._recipe(weight)``, checked against ``dtype`` (for a weight with elements).

    Plans are pure functions of the parameters, so they are cached (a model repeats few
    shapes), keyed by the exact parameter values; an initializer whose parameters cannot
    be hashed is asked every time.
    """
    kind = type(init)
    exact = (kind, tuple(_exact(getattr(init, name)) for name in _parameter_names(kind)))
    try:
        hash(exact)
    except TypeError:
        return _recipe_uncached(init, weight, dtype)
    return _cached_recipe(exact, init, weight, dtype)


@functools.lru_cache(maxsize=1024)
def _cached_recipe(
    exact: tuple[Any, ...], init: Initializer, weight: Weight, dtype: np.dtype[Any]
) -> Distribution | Builder:
    return _recipe_uncached(init, weight, dtype)


def _literal(value: object) -> str:
    """The Python literal of a parameter value."""
    return repr(float(value)) if isinstance(value, float) else repr(value)


@dataclass(frozen=True, repr=False)
class Initializer:
    """Base class of every initializer: a frozen, hashable configuration.

    A subclass is a frozen dataclass whose fields are its parameters; it defines
    :meth:`_recipe` and sets ``_name``, the name :func:`weightinit.get` knows it by (see
    :func:`weightinit.register`).

    Examples
    --------
    >>> import weightinit as wi
    >>> init = wi.glorot_uniform()
    >>> init, init.variance((300, 100))
    (glorot_uniform(), 0.005)
    >>> init.recipe((300, 100)).elementwise
    True
    """

    #: The name :func:`weightinit.get` and :meth:`get_config` use.
    _name: ClassVar[str] = "initializer"
    #: How many leading parameters the repr writes positionally (all of them, if any differs
    #: from its default); the others are written as keywords when they differ.
    _positional: ClassVar[int] = 0
    #: Whether ``_name`` is a public factory of the package, so the repr can call it.
    _public: ClassVar[bool] = False
    #: The public factory the repr calls, where it is not ``_name`` (a config's name).
    _factory: ClassVar[str | None] = None
    #: Whether the class itself set ``_name`` (a subclass inherits its parent's otherwise).
    _named: ClassVar[bool] = False
    #: The call that made this object, where its parameters cannot say it (set by
    #: :func:`labelled`; a copy with other values, e.g. ``dataclasses.replace``, drops it).
    _label: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass's own ``@dataclass`` would write a repr with its class name; this one,
        # already in the class body, is kept.
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = Initializer.__repr__  # type: ignore[method-assign]
        # What makes a parent print as a factory call is the parent's: a subclass prints as
        # its own call unless it says otherwise.
        cls._public = bool(cls.__dict__.get("_public", False))
        cls._factory = cls.__dict__.get("_factory")
        cls._named = "_name" in cls.__dict__
        if "_call" not in cls.__dict__:
            cls._call = Initializer._call  # type: ignore[method-assign]
        if "_plan" in cls.__dict__ and "_recipe" not in cls.__dict__:
            # The hook's former name: still honoured, with a warning.
            warnings.warn(
                f"{cls.__name__} defines _plan(weight); the hook is now called _recipe(weight).",
                DeprecationWarning,
                stacklevel=2,
            )
            cls._recipe = cls.__dict__["_plan"]  # type: ignore[method-assign]

    def _recipe(self, weight: Weight) -> Distribution | Builder:
        """What each element of ``weight`` is drawn from, or how the weight is built.

        Raise ``ValueError`` for a shape this initializer cannot fill; this is checked before
        any work, even for shapes that hold no element.
        """
        raise TypeError(
            f"{type(self).__name__} does not define _recipe(); Initializer is a base class: "
            "subclass it (see weightinit.register) or use one of the factories."
        )

    # ------------------------------------------------------------------ making arrays

    def __call__(
        self,
        shape: int | Sequence[int],
        dtype: npt.DTypeLike = np.float32,
        *,
        seed: SeedLike = None,
        layout: str = "in_out",
        groups: int = 1,
        threads: int | None = None,
        region: Region = None,
        blocks: int = 1,
        in_axis: int | Sequence[int] | None = None,
        out_axis: int | Sequence[int] | None = None,
        batch_axis: int | Sequence[int] = (),
    ) -> FloatArray:
        """Return a new array of ``shape`` and ``dtype`` drawn from this initializer.

        Parameters
        ----------
        shape : int or sequence of int
        dtype : float16, float32 (default) or float64
        seed : None, int, SeedSequence, Generator or Key
            The same int or ``SeedSequence`` gives the same bytes on every call and
            platform; a ``Generator`` is advanced, so two calls with it differ.
        layout, groups
            How fans are read from the shape (see :func:`weightinit.fans`).
        threads : int, optional
            Threads to generate with; ``None`` means the usable cores (at most 8) when at
            least 2^20 elements are generated in tiles of 2^14 or more on average, and one
            thread otherwise. The values do not depend on it.
        region : index expression, optional
            Return only ``full[region]`` (slices, integers, ``Ellipsis``; build it with
            ``np.s_``), generating only the tiles it touches. The values equal those of the
            full array at the same positions.
        blocks : int, default 1
            The output axis stacks this many equal blocks (a fused q/k/v projection, an
            LSTM's gates): fans, and structured draws such as orthogonal, are per block.
        in_axis, out_axis, batch_axis : int or sequence of int, optional
            Axes that replace the layout's, with the meaning of JAX's ``variance_scaling``
            (see :func:`weightinit.fans`). Values are drawn in the order: output axes,
            input axes, then the other axes, so axes that equal a layout's give that
            layout's values.

        Examples
        --------
        A Flax ``DenseGeneral`` kernel from 512 features to 8 heads of 64 has one fan-in
        of 512, as JAX's ``variance_scaling(..., in_axis=0, out_axis=(1, 2))`` reads it:

        >>> import weightinit as wi
        >>> init = wi.lecun_normal()
        >>> init.variance((512, 8, 64), in_axis=0, out_axis=(1, 2)) == 1 / 512
        True
        >>> init((512, 8, 64), seed=0, in_axis=0, out_axis=(1, 2)).shape
        (512, 8, 64)
        """
        if (
            hasattr(shape, "__index__")
            and hasattr(dtype, "__index__")
            and not isinstance(dtype, bool)
        ):
            # init(784, 256): a second dimension passed where the dtype goes.
            raise TypeError(
                f"dtype must be one of float16, float32, float64; got {dtype!r}. The shape is "
                f"one tuple: init(({shape!r}, {dtype!r})), not init({shape!r}, {dtype!r})."
            )
        weight = Weight.checked(
            shape, layout, groups, blocks, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis
        )
        return self._make(weight, check_dtype(dtype), seed, check_threads(threads), region)

    def _make(
        self,
        weight: Weight,
        dtype: np.dtype[Any],
        seed: SeedLike,
        threads: int | None,
        region: Region = None,
    ) -> FloatArray:
        """A new array of ``weight`` (checked) and ``dtype`` (checked), or its ``region``:
        the one path of every call, and of the bridges that already hold a ``Weight``."""
        ranges, dropped = selection(region, weight.shape)
        out = np.empty(tuple(len(r) for r in ranges), dtype=dtype)
        write_all([self._prepare(out, weight, ranges, seed=seed)], threads)
        if dropped:
            out = out.reshape([len(r) for a, r in enumerate(ranges) if a not in dropped])
        return out

    def fill(
        self,
        array: FloatArray,
        *,
        seed: SeedLike = None,
        layout: str = "in_out",
        groups: int = 1,
        threads: int | None = None,
        blocks: int = 1,
        in_axis: int | Sequence[int] | None = None,
        out_axis: int | Sequence[int] | None = None,
        batch_axis: int | Sequence[int] = (),
    ) -> FloatArray:
        """Fill ``array`` in place and return it.

        The values equal ``self(array.shape, array.dtype, seed=seed, ...)`` whatever the
        array's memory order or strides.

        Examples
        --------
        >>> import numpy as np
        >>> import weightinit as wi
        >>> w = np.empty((3, 4), dtype=np.float64, order="F")
        >>> wi.he_uniform().fill(w, seed=1) is w
        True
        >>> bool((w == wi.he_uniform()((3, 4), np.float64, seed=1)).all())
        True
        """
        if not isinstance(array, np.ndarray):
            raise TypeError(f"fill needs a numpy.ndarray; got {type(array).__name__}.")
        check_dtype(array.dtype)
        if not array.flags.writeable:
            raise ValueError("fill needs a writeable array; the array given is read-only.")
        weight = Weight.checked(
            array.shape,
            layout,
            groups,
            blocks,
            in_axis=in_axis,
            out_axis=out_axis,
            batch_axis=batch_axis,
        )
        count = check_threads(threads)
        full = [range(d) for d in array.shape]
        write_all([self._prepare(array, weight, full, seed=seed)], count)
        return array

    def prepare(
        self,
        out: FloatArray,
        shape: tuple[int, ...],
        ranges: list[range],
        *,
        seed: SeedLike,
        layout: str = "in_out",
        groups: int = 1,
        blocks: int = 1,
        in_axis: int | Sequence[int] | None = None,
        out_axis: int | Sequence[int] | None = None,
        batch_axis: int | Sequence[int] = (),
    ) -> Prepared:
        """Validate a call and say what writing ``full[ranges]`` of a ``shape`` weight into
        ``out`` takes, without doing it; :func:`write_all` then writes many at once.

        The keyword form of :meth:`_prepare`, which takes a checked ``Weight``.
        """
        weight = Weight.checked(
            shape, layout, groups, blocks, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis
        )
        return self._prepare(out, weight, ranges, seed=seed)

    def _prepare(
        self, out: FloatArray, weight: Weight, ranges: list[range], *, seed: SeedLike
    ) -> Prepared:
        """Say what writing ``full[ranges]`` of ``weight`` into ``out`` takes, without doing
        it; :func:`write_all` then writes many at once.

        ``weight`` was checked by :meth:`Weight.checked`; this checks the seed and the
        weight's recipe against ``out``'s dtype. This is the hook of
        :func:`weightinit.initialize`, so a bad weight fails before any other is written.
        """
        shape = weight.shape
        check_seed(seed)
        recipe = checked_recipe(self, weight, out.dtype)
        if weight.size == 0:
            return Prepared(out.size)
        if isinstance(recipe, Distribution):  # drawn tile by tile: batched with other weights
            if weight.layout == "keras_depthwise" and len(shape) >= 2:
                return _depthwise(recipe, out, weight, ranges, seed)
            # Tiles are cut and numbered in the canonical order (out, in, *kernel), and the
            # values land in ``out`` through the matching axis permutation.
            axes = weight.axes
            request = recipe.request(
                out.transpose(axes), seed, weight.canonical_shape, [ranges[a] for a in axes]
            )
            return Prepared(out.size, request=request)
        return Prepared(out.size, build=functools.partial(recipe.write, out, seed, shape, ranges))

    # ------------------------------------------------------------------ describing

    def recipe(
        self,
        shape: int | Sequence[int],
        *,
        layout: str = "in_out",
        groups: int = 1,
        blocks: int = 1,
        in_axis: int | Sequence[int] | None = None,
        out_axis: int | Sequence[int] | None = None,
        batch_axis: int | Sequence[int] = (),
    ) -> Distribution | Builder:
        """What each element of a weight of ``shape`` is drawn from (a ``Distribution``,
        for element-wise initializers), or how the weight is built whole (a ``Builder``).

        ``recipe(shape).elementwise`` says whether any region can be made alone, and
        ``recipe(shape).mean()`` is the expected value of each element.
        """
        return self._recipe(
            Weight.checked(
                shape,
                layout,
                groups,
                blocks,
                in_axis=in_axis,
                out_axis=out_axis,
                batch_axis=batch_axis,
            )
        )

    def plan(self, *args: Any, **kwargs: Any) -> Distribution | Builder:
        """The former name of :meth:`recipe` (a model's plan is ``weightinit.torch.plan``'s),
        with a ``DeprecationWarning``."""
        warnings.warn(
            "Initializer.plan(shape) is now Initializer.recipe(shape).",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.recipe(*args, **kwargs)

    def variance(
        self,
        shape: int | Sequence[int],
        *,
        layout: str = "in_out",
        groups: int = 1,
        blocks: int = 1,
        in_axis: int | Sequence[int] | None = None,
        out_axis: int | Sequence[int] | None = None,
        batch_axis: int | Sequence[int] = (),
    ) -> float:
        """The exact variance of each element of a weight of ``shape``.

        Raises ``ValueError`` for initializers whose elements have no common variance
        (identity, dirac) and for shapes that leave it undefined (a fan of zero).
        """
        return self._variance(
            Weight.checked(
                shape,
                layout,
                groups,
                blocks,
                in_axis=in_axis,
                out_axis=out_axis,
                batch_axis=batch_axis,
            )
        )

    def _variance(self, weight: Weight) -> float:
        """The variance of each element of a checked ``weight``."""
        return self._finite(self._recipe(weight).variance())

    def _finite(self, variance: float) -> float:
        """``variance``, or a ``ValueError`` naming this initializer if it overflowed."""
        if not math.isfinite(variance):
            raise ValueError(f"the variance of {self!r} overflows a float64.")
        return variance

    def _parameters(self) -> dict[str, Any]:
        """The constructor parameters, by name, in order."""
        return {name: getattr(self, name) for name in _parameter_names(type(self))}

    def get_config(self) -> dict[str, Any]:
        """A JSON-serialisable dict from which :func:`weightinit.get` rebuilds this object."""
        return {"name": self._name, **self._parameters()}

    def __repr__(self) -> str:
        """The public call that makes this initializer."""
        label = self.__dict__.get("_label")
        return label if label is not None else self._call()

    def _call(self) -> str:
        """The text of the call: ``name(positional..., keyword=...)``, omitting defaults.

        Classes whose ``_name`` is not a public factory print as ``get({...})`` (evaluable
        with :func:`weightinit.get` once registered), or as their class call.
        """
        fields = [f for f in dataclasses.fields(self) if f.init]
        values = self._parameters()

        def differs(f: dataclasses.Field[Any]) -> bool:
            return f.default is dataclasses.MISSING or values[f.name] != f.default

        lead, rest = fields[: self._positional], fields[self._positional :]
        args = [_literal(values[f.name]) for f in lead] if any(map(differs, lead)) else []
        args += [f"{f.name}={_literal(values[f.name])}" for f in rest if differs(f)]
        if self._public:
            return f"{self._factory or self._name}({', '.join(args)})"
        if self._named:
            return f"get({self.get_config()!r})"
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in values.items())})"


def labelled(init: InitializerT, call: str) -> InitializerT:
    """A copy of ``init`` that prints as ``call``, which must evaluate to an equal object
    (a preset made from an activation's gain, a framework's default)."""
    copy = dataclasses.replace(init)
    object.__setattr__(copy, "_label", call)
    return copy
