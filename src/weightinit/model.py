"""Whole models in one call: named parameters, each keyed by its name, made in shared batches.

:func:`initialize` takes a mapping of names to :class:`Param` records (or ``(initializer,
shape)`` pairs) and returns the arrays. Entry ``name`` is drawn with the key
``Key.from_seed(seed).fold_in(name)``, so it equals the single call made with that key, and
adding, removing or reordering entries changes no other entry's values. The tiles of all
element-wise entries go through the engine together, so a model of many small tensors pays
one chain of NumPy calls per batch of tiles rather than one per tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Union

import numpy as np
import numpy.typing as npt

from weightinit import registry
from weightinit._errors import check_dtype
from weightinit._errors import check_threads
from weightinit._errors import install_hint
from weightinit._fans import Weight
from weightinit.initializers import Initializer
from weightinit.initializers import Prepared
from weightinit.initializers import checked_recipe
from weightinit.initializers import write_all
from weightinit.seeds import Key
from weightinit.seeds import SeedLike
from weightinit.seeds import check_seed

__all__ = ["Param", "initialize"]

FloatArray = npt.NDArray[np.floating[Any]]

#: From this many elements on, ``progress=True`` shows a bar (below, the work is too short to
#: wait for).
PROGRESS_MIN = 2**24


@dataclass(frozen=True)
class Param:
    """One parameter of a model: its initializer, shape, layout, groups, stacked blocks,
    explicit axes and dtype.

    ``initializer`` may be an :class:`Initializer`, a name or a config dict (as for
    :func:`weightinit.get`). The shape, layout, groups, blocks and axes are checked once,
    into the :class:`~weightinit.Weight` that :attr:`weight` holds (``layout`` in its
    canonical form; ``in_axis``, ``out_axis`` and ``batch_axis`` as tuples of non-negative
    axes, ``None`` for the layout's); ``dtype=None`` means the dtype passed to
    :func:`initialize`.

    Examples
    --------
    >>> import weightinit as wi
    >>> p = wi.Param(wi.he_normal(), (256, 784), layout="pytorch")
    >>> p.layout, p.shape
    ('out_in', (256, 784))
    >>> wi.Param("zeros", 256).initializer
    zeros()
    >>> wi.Param(wi.orthogonal(), (4 * 128, 128), layout="pytorch", blocks=4).blocks  # gates
    4
    >>> p.weight.fans
    Fans(fan_in=784, fan_out=256, receptive_field=1)

    A Flax ``DenseGeneral`` kernel from 512 features to 8 heads of 64:

    >>> q = wi.Param(wi.lecun_normal(), (512, 8, 64), in_axis=0, out_axis=(-2, -1))
    >>> q.in_axis, q.out_axis, q.weight.fans.fan_in
    ((0,), (1, 2), 512)
    """

    initializer: Initializer | str | Mapping[str, Any]
    shape: tuple[int, ...]
    layout: str = field(default="in_out", kw_only=True)
    groups: int = field(default=1, kw_only=True)
    blocks: int = field(default=1, kw_only=True)
    in_axis: int | Sequence[int] | None = field(default=None, kw_only=True)
    out_axis: int | Sequence[int] | None = field(default=None, kw_only=True)
    batch_axis: int | Sequence[int] = field(default=(), kw_only=True)
    dtype: npt.DTypeLike | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "initializer", registry.get(self.initializer))
        weight = Weight.checked(
            self.shape,
            self.layout,
            self.groups,
            self.blocks,
            in_axis=self.in_axis,
            out_axis=self.out_axis,
            batch_axis=self.batch_axis,
        )
        object.__setattr__(self, "_weight", weight)
        for name, value in _facts(weight).items():
            object.__setattr__(self, name, value)
        if self.dtype is not None:
            object.__setattr__(self, "dtype", check_dtype(self.dtype))

    @classmethod
    def of(
        cls,
        initializer: Initializer | str | Mapping[str, Any],
        weight: Weight,
        *,
        dtype: npt.DTypeLike | None = None,
    ) -> Param:
        """The parameter of ``initializer`` over ``weight``, which is checked unless it
        already was (:meth:`Weight.checked`), so its facts are checked once.

        Examples
        --------
        >>> import weightinit as wi
        >>> from weightinit import Weight
        >>> wi.Param.of("he_normal", Weight((256, 784), "out_in")).layout
        'out_in'
        """
        if not isinstance(weight, Weight):
            raise TypeError(f"Param.of needs a weightinit.Weight; got {type(weight).__name__}.")
        weight = weight.ensure_checked()
        p = object.__new__(cls)
        values = {
            "initializer": registry.get(initializer),
            **_facts(weight),
            "dtype": None if dtype is None else check_dtype(dtype),
            "_weight": weight,
        }
        for name, value in values.items():
            object.__setattr__(p, name, value)
        return p

    @property
    def weight(self) -> Weight:
        """The checked weight: shape, canonical layout, groups, blocks and axes."""
        weight: Weight = self.__dict__["_weight"]
        return weight


def _facts(weight: Weight) -> dict[str, Any]:
    """The fields of a :class:`Param` that say its weight's geometry, as ``weight`` holds
    them."""
    return {
        "shape": weight.shape,
        "layout": weight.layout,
        "groups": weight.groups,
        "blocks": weight.blocks,
        "in_axis": weight.in_axes,
        "out_axis": weight.out_axes,
        "batch_axis": weight.batch_axes,
    }


ParamLike = Union[Param, tuple[Any, Any]]


def _named(name: object, error: Exception) -> Exception:
    """``error`` again, its message led by the entry's name (``params['fc1.weight']: ...``)."""
    kind = TypeError if isinstance(error, TypeError) else ValueError
    named = kind(f"params[{name!r}]: {error}")
    named.__cause__ = error
    return named


def _param(name: object, entry: object, dtype: np.dtype[Any]) -> tuple[Param, Initializer]:
    """``entry`` as a :class:`Param` and its initializer, checked against its shape, layout,
    groups and dtype without drawing anything; errors name the entry."""
    try:
        if isinstance(name, bool) or not (isinstance(name, str) or hasattr(name, "__index__")):
            raise TypeError(
                f"parameter names must be str or int (they key the values); got {name!r} of "
                f"type {type(name).__name__}."
            )
        if isinstance(entry, Param):
            p = entry
        elif isinstance(entry, tuple) and len(entry) == 2:
            p = Param(entry[0], entry[1])
        else:
            raise TypeError(
                "an entry must be a weightinit.Param or an (initializer, shape) pair; got "
                f"{entry!r} of type {type(entry).__name__}."
            )
        init = registry.get(p.initializer)
        checked_recipe(init, p.weight, np.dtype(dtype if p.dtype is None else p.dtype))
        return p, init
    except (TypeError, ValueError) as error:
        raise _named(name, error) from error


def _progress_bar(total: int) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A tqdm bar over ``total`` elements: its update and close functions."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "progress=True needs tqdm: install the progress extra with "
            f"{install_hint('progress')}, or pass a callable that receives (done, total)."
        ) from None
    bar = tqdm(total=total, unit="value", unit_scale=True, desc="initialize")
    return bar.update, bar.close


def initialize(
    params: Mapping[Any, ParamLike],
    seed: SeedLike,
    *,
    dtype: npt.DTypeLike = np.float32,
    threads: int | None = None,
    progress: bool | Callable[[int, int], object] = False,
) -> dict[Any, FloatArray]:
    """Make every parameter of a model in one call, each keyed by its name.

    Parameters
    ----------
    params : mapping of name to Param or (initializer, shape)
        Names are ``str`` or ``int``. An initializer may be given by name or config dict.
    seed : int, SeedSequence, Generator, Key or None
        Resolved once (a ``Generator`` is advanced once); entry ``name`` is drawn with
        ``Key.from_seed(seed).fold_in(name)``.
    dtype : float16, float32 (default) or float64
        For entries whose ``Param`` does not set one.
    threads : int, optional
        As for a single call: ``None`` uses the usable cores (at most 8) when at least
        2^20 elements in tiles of 2^14 or more on average are generated, else one thread.
        The values do not depend on it.
    progress : bool or callable, default False
        ``True`` shows a tqdm progress bar (the ``progress`` extra) when there are at least
        2^24 values to make; a callable is called with ``(done, total)`` elements as the
        work advances, one call at a time but possibly from a worker thread. Neither
        changes a value.

    Returns
    -------
    dict
        The arrays, in the order of ``params``. Entry ``name`` equals
        ``initializer(shape, dtype, seed=Key.from_seed(seed).fold_in(name), layout=...,
        groups=..., blocks=...)`` byte for byte. Peak memory is the outputs plus a bounded
        scratch (about 15 MB per thread) for element-wise entries; a structured entry
        (``orthogonal``, ``sparse``, ...) is built whole, with temporaries of its own size.

    Raises
    ------
    TypeError, ValueError
        For a bad entry, with its name (``params['fc1.weight']: ...``); every entry is
        checked before any memory is taken or any value drawn.

    Examples
    --------
    >>> import weightinit as wi
    >>> params = wi.initialize({
    ...     "fc1.weight": wi.Param(wi.he_normal(), (256, 784), layout="pytorch"),
    ...     "fc1.bias": (wi.zeros(), (256,)),
    ...     "fc2.weight": wi.Param("glorot_uniform", (10, 256), layout="pytorch"),
    ... }, seed=0)
    >>> list(params), params["fc1.weight"].dtype
    (['fc1.weight', 'fc1.bias', 'fc2.weight'], dtype('float32'))
    >>> key = wi.Key.from_seed(0).fold_in("fc1.weight")
    >>> alone = wi.he_normal()((256, 784), seed=key, layout="pytorch")
    >>> bool((params["fc1.weight"] == alone).all())
    True
    """
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a mapping of names to Param or (initializer, shape); got "
            f"{type(params).__name__}."
        )
    default = check_dtype(dtype)
    count = check_threads(threads)
    if not (isinstance(progress, bool) or callable(progress)):
        raise TypeError(f"progress must be a bool or a callable; got {progress!r}.")
    check_seed(seed)
    # Every entry is checked before any memory is taken or the seed is resolved (which
    # advances a Generator once).
    entries = [(name, *_param(name, entry, default)) for name, entry in params.items()]
    root = Key.from_seed(seed)
    out: dict[Any, FloatArray] = {}
    work: list[Prepared] = []
    for name, p, init in entries:
        try:
            array = np.empty(p.shape, dtype=default if p.dtype is None else p.dtype)
            key = root.fold_in(name)
            ranges = [range(d) for d in p.shape]
            work.append(init._prepare(array, p.weight, ranges, seed=key))
        except MemoryError as error:
            raise MemoryError(f"params[{name!r}]: no memory for shape {p.shape}.") from error
        except (TypeError, ValueError) as error:
            raise _named(name, error) from error
        out[name] = array
    _run(work, count, progress)
    return out


def _run(
    work: Sequence[Prepared], threads: int | None, progress: bool | Callable[[int, int], object]
) -> None:
    """:func:`write_all`, reporting progress as asked."""
    total = sum(w.size for w in work)
    if progress is False or (progress is True and total < PROGRESS_MIN):
        write_all(work, threads)
        return
    if progress is True:
        update, close = _progress_bar(total)
        try:
            write_all(work, threads, update)
        finally:
            close()
        return
    report = progress
    done = [0]

    def advance(elements: int) -> None:
        done[0] += elements
        report(done[0], total)

    write_all(work, threads, advance)
    if total == 0:
        report(0, 0)
