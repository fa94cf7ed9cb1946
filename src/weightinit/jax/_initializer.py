"""JAX and Flax: an initializer as a ``kernel_init`` whose values are a pure function of the key.

The values are made by weightinit in NumPy, on the host, so they are the same eagerly, under
``jax.jit`` and ``jax.vmap``, and on every device. Called with a concrete key, the
initializer makes them directly (nothing is compiled); under tracing, a host callback makes
them when the compiled function runs, and the callback is built once per initializer, shape
and dtype, so compiled functions are reused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from weightinit import registry
from weightinit._fans import Weight
from weightinit.initializers import Initializer
from weightinit.initializers import checked_recipe
from weightinit.jax._callback import HostFunction
from weightinit.jax._callback import host_values
from weightinit.jax._keys import jax_module
from weightinit.jax._keys import key_data
from weightinit.jax._keys import seed_from_words
from weightinit.seeds import Key
from weightinit.seeds import SeedLike
from weightinit.seeds import check_seed

__all__ = ["haiku_initializer", "initializer", "target_dtype"]

_AXES = ("in_axis", "out_axis", "batch_axis")
_FLOATS = "float16, bfloat16, float32 or float64 (or None, JAX's default float dtype)"


def target_dtype(dtype: Any) -> tuple[Any, np.dtype[Any]]:
    """The JAX dtype asked for and the NumPy dtype the values are made in.

    ``None`` is JAX's default float dtype, float64 under ``jax_enable_x64`` and float32
    otherwise, as for ``jax.nn.initializers``; float64 without x64 is float32, as JAX
    makes it. Integer, bool and complex dtypes are refused: weightinit draws real values.
    """
    jax = jax_module()
    jnp = jax.numpy
    asked = jnp.float64 if dtype is None else dtype
    try:
        target = jax.dtypes.canonicalize_dtype(asked)
    except TypeError:
        raise TypeError(f"dtype must be {_FLOATS}; got {dtype!r}.") from None
    if jnp.issubdtype(target, jnp.complexfloating):
        raise TypeError(
            f"dtype must be {_FLOATS}; got {target.name}. weightinit draws real values; for "
            f"a complex weight, make its real and imaginary parts as two real weights "
            f"(each with half the variance) and combine them: re + 1j * im."
        )
    if not jnp.issubdtype(target, jnp.floating):
        raise TypeError(
            f"dtype must be {_FLOATS}; got {target.name}. Initial weights are drawn as "
            f"floats: make them in a float dtype and convert them yourself if you mean to."
        )
    return target, np.dtype(np.float64 if target == np.float64 else np.float32)


class JaxInitializer:
    """A JAX initializer ``(key, shape, dtype=None, out_sharding=None) -> jax.Array``:
    what :func:`initializer` returns (see there)."""

    def __init__(
        self,
        init: Initializer,
        options: Weight,
        seed: SeedLike,
        name: str | int | None,
        axes: tuple[Any, Any, Any] = (None, None, ()),
    ) -> None:
        self.init = init
        self._options = options
        self._axes = axes
        # An int or a Key is kept as given (for the repr); any other seed is resolved once,
        # so every call sees the same key.
        self.seed = seed if seed is None or isinstance(seed, (int, Key)) else Key.from_seed(seed)
        self.name = name
        key = None if seed is None else Key.from_seed(self.seed)
        self._key = key if name is None or key is None else key.fold_in(name)
        self._callbacks: dict[tuple[Any, ...], HostFunction] = {}
        # Flax prints a callable attribute by its __name__: the call, as the user wrote it.
        self.__name__ = self.__qualname__ = f"initializer({self._arguments()})"

    # ------------------------------------------------------------------ what users read

    def _arguments(self) -> str:
        parts = [repr(self.init)]
        options = self._options
        defaults = (("layout", "in_out"), ("groups", 1), ("blocks", 1))
        parts += [
            f"{field}={getattr(options, field)!r}"
            for field, default in defaults
            if getattr(options, field) != default
        ]
        parts += [
            f"{field}={value!r}"
            for field, value, default in zip(_AXES, self._axes, (None, None, ()), strict=True)
            if value != default
        ]
        parts += [
            f"{f}={getattr(self, f)!r}" for f in ("seed", "name") if getattr(self, f) is not None
        ]
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"weightinit.jax.initializer({self._arguments()})"

    def _identity(self) -> tuple[Any, ...]:
        options = self._options
        return (self.init, options.layout, options.groups, options.blocks, self._axes, self._key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JaxInitializer):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __reduce__(self) -> tuple[Any, ...]:
        options = self._options
        arguments = (options.layout, options.groups, options.blocks, self.seed, self.name)
        return (_rebuilt, (self.init, *arguments, *self._axes))

    # ------------------------------------------------------------------ the values

    def __call__(self, key: Any, shape: Any, dtype: Any = None, out_sharding: Any = None) -> Any:
        jax = jax_module()
        target, host = target_dtype(dtype)
        weight = self._options.with_shape(tuple(int(d) for d in shape))
        # Checked on the host now, so a bad shape fails here rather than inside a callback.
        checked_recipe(self.init, weight, host)
        words = None if self._key is not None else key_data(key)
        if isinstance(key, jax.core.Tracer) or isinstance(words, jax.core.Tracer):
            operands = () if words is None else (words,)
            blocks = _blocks(out_sharding, weight.shape)
            if blocks is not None:
                return self._traced_shards(weight, host, target, out_sharding, blocks, operands)
            values = host_values(self._callback(weight, host), weight.shape, host, *operands)
            values = values.astype(target) if target != host else values
            if out_sharding is not None:
                values = jax.lax.with_sharding_constraint(values, out_sharding)
            return values
        seed = self._key if self._key is not None else seed_from_words(words)
        if isinstance(out_sharding, jax.sharding.Sharding):
            return _sharded(self.init, weight, host, target, seed, out_sharding)
        values = jax.device_put(self.init._make(weight, host, seed, None))
        values = values.astype(target) if target != host else values
        return values if out_sharding is None else jax.device_put(values, out_sharding)

    def _callback(self, weight: Weight, host: np.dtype[Any]) -> HostFunction:
        """The host function of ``weight`` in ``host``, made once (so a traced call is the
        same computation every time and compiled functions are reused)."""
        found = self._callbacks.get((weight, host))
        if found is not None:
            return found
        init, fixed = self.init, self._key

        if fixed is None:

            def values(words: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
                return init._make(weight, host, seed_from_words(words), None)

        else:

            def values() -> np.ndarray[Any, Any]:  # type: ignore[misc]
                return init._make(weight, host, fixed, None)

        self._callbacks[(weight, host)] = values
        return values

    def _traced_shards(
        self,
        weight: Weight,
        host: np.dtype[Any],
        target: Any,
        sharding: Any,
        blocks: tuple[tuple[str, ...], ...],
        operands: tuple[Any, ...],
    ) -> Any:
        """Under tracing, the values placed with ``sharding`` (a ``NamedSharding`` that
        splits every axis evenly), each device making only its own region: a host callback
        per device inside ``jax.shard_map``, given the region's first index."""
        jax = jax_module()
        jnp = jax.numpy
        mesh = sharding.mesh
        local = tuple(
            d // math.prod(mesh.shape[a] for a in axes)
            for d, axes in zip(weight.shape, blocks, strict=True)
        )
        fn = self._region_callback(weight, host, local)

        def body(*operands: Any) -> Any:
            starts = jnp.stack(
                [
                    jax.lax.axis_index(axes) * n if axes else jnp.int32(0)
                    for axes, n in zip(blocks, local, strict=True)
                ]
            ).astype(jnp.int32)
            values = host_values(fn, local, host, *operands, starts)
            return values.astype(target) if target != host else values

        spec = jax.sharding.PartitionSpec(*(a if a else None for a in blocks))
        replicated = (jax.sharding.PartitionSpec(),) * len(operands)
        mapped = jax.shard_map(body, mesh=mesh, in_specs=replicated, out_specs=spec)
        return mapped(*operands)

    def _region_callback(
        self, weight: Weight, host: np.dtype[Any], local: tuple[int, ...]
    ) -> HostFunction:
        """The host function of one device's region of ``weight``, the region's shape
        ``local`` and its first index an operand (made once, as :meth:`_callback`)."""
        cache_key = (weight, host, local)
        found = self._callbacks.get(cache_key)
        if found is not None:
            return found
        init, fixed = self.init, self._key

        def region(starts: np.ndarray[Any, Any]) -> tuple[slice, ...]:
            return tuple(slice(int(s), int(s) + n) for s, n in zip(starts, local, strict=True))

        if fixed is None:

            def values(words: Any, starts: Any) -> np.ndarray[Any, Any]:
                return init._make(weight, host, seed_from_words(words), None, region(starts))

        else:

            def values(starts: Any) -> np.ndarray[Any, Any]:  # type: ignore[misc]
                return init._make(weight, host, fixed, None, region(starts))

        self._callbacks[cache_key] = values
        return values


def _blocks(sharding: Any, shape: tuple[int, ...]) -> tuple[tuple[str, ...], ...] | None:
    """The mesh axes that split each axis of ``shape``, when ``sharding`` is a
    ``NamedSharding`` over a concrete mesh that splits every axis evenly; else ``None``."""
    jax = jax_module()
    if not isinstance(sharding, jax.sharding.NamedSharding):
        return None
    mesh, spec = sharding.mesh, tuple(sharding.spec)
    if not isinstance(mesh, jax.sharding.Mesh) or len(spec) > len(shape):
        return None
    blocks: list[tuple[str, ...]] = []
    for d, entry in zip(shape, spec + (None,) * (len(shape) - len(spec)), strict=True):
        axes = () if entry is None else (entry,) if isinstance(entry, str) else entry
        if not isinstance(axes, tuple) or not all(isinstance(a, str) for a in axes):
            return None
        if d % math.prod(mesh.shape[a] for a in axes):
            return None
        blocks.append(axes)
    return tuple(blocks)


def _sharded(
    init: Initializer,
    weight: Weight,
    host: np.dtype[Any],
    target: Any,
    seed: Key,
    sharding: Any,
) -> Any:
    """The values of ``weight`` placed with ``sharding``, each device's shard made from its
    own region."""
    jax = jax_module()

    def shard(index: tuple[slice, ...]) -> Any:
        values = init._make(weight, host, seed, 1, index)
        return values.astype(target) if values.dtype != target else values

    return jax.make_array_from_callback(weight.shape, sharding, shard)


def _rebuilt(
    init: Initializer,
    layout: str,
    groups: int,
    blocks: int,
    seed: SeedLike,
    name: Any,
    in_axis: Any,
    out_axis: Any,
    batch_axis: Any,
) -> JaxInitializer:
    return initializer(
        init,
        layout=layout,
        groups=groups,
        blocks=blocks,
        seed=seed,
        name=name,
        in_axis=in_axis,
        out_axis=out_axis,
        batch_axis=batch_axis,
    )


def _hashable(axes: object) -> object:
    """An axis or a sequence of axes, as given, with a list made a tuple."""
    return tuple(axes) if isinstance(axes, list) else axes


def _checked_name(name: object, seed: object) -> str | int | None:
    if name is None:
        return None
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise TypeError(f"name must be a str, an int or None; got {name!r}.")
    if seed is None:
        raise ValueError(
            f"name={name!r} needs a seed: the values are keyed by "
            f"Key.from_seed(seed).fold_in(name). Pass seed=..., or drop name to key the "
            f"values by the JAX key."
        )
    return name


def initializer(
    init: object,
    *,
    layout: str = "in_out",
    groups: int = 1,
    blocks: int = 1,
    seed: SeedLike = None,
    name: str | int | None = None,
    in_axis: int | Sequence[int] | None = None,
    out_axis: int | Sequence[int] | None = None,
    batch_axis: int | Sequence[int] = (),
) -> JaxInitializer:
    """``init`` as a JAX initializer ``(key, shape, dtype=None, out_sharding=None) ->
    jax.Array``, usable as a Flax ``kernel_init``.

    Parameters
    ----------
    init : Initializer, name or config dict
        As for :func:`weightinit.get`.
    layout, groups, blocks
        How fans are read from the shape (see :func:`weightinit.fans`). Flax's kernels are
        ``(in, out)`` and HWIO: the default layout ``"in_out"``.
    seed : int, SeedSequence, Generator, Key or None
        ``None`` (default): the values are a pure function of the JAX key,
        ``init(shape, seed=seed_from_key(key))``. Otherwise the JAX key is **ignored** and
        the values are ``init(shape, seed=Key.from_seed(seed))`` — with ``name``,
        ``Key.from_seed(seed).fold_in(name)``, the values :func:`weightinit.initialize`
        gives the entry ``name`` — so a model gets the same weights in every framework. A
        ``Generator`` or ``SeedSequence`` is resolved once, here.
    name : str or int, optional
        The parameter's name; needs ``seed``.
    in_axis, out_axis, batch_axis : int or sequence of int, optional
        Explicit axes, as ``jax.nn.initializers.variance_scaling`` takes them (negative
        ones count from the end of each shape): a Flax ``DenseGeneral`` kernel
        ``(embed, heads, head_dim)`` has ``in_axis=0, out_axis=(1, 2)``. ``None`` takes the
        axis from ``layout``.

    Returns
    -------
    initializer
        Called as JAX's own initializers are, ``(key, shape, dtype=None,
        out_sharding=None)``. ``dtype=None`` is JAX's default float dtype (float64 under
        ``jax_enable_x64``, else float32); float16 and bfloat16 get the float32 values cast
        by JAX; integer, bool and complex dtypes raise ``TypeError``. With a concrete key
        the values are made directly on the host (nothing is compiled); under ``jax.jit``
        or ``jax.vmap`` by a host callback, with identical values. ``out_sharding`` (a
        ``jax.sharding.Sharding``) places the result: eagerly each device's shard is made
        from its own region, as :func:`make_array` does; under ``jax.jit`` too when it is a
        ``NamedSharding`` splitting every axis evenly (a callback per device, inside
        ``jax.shard_map``), and otherwise the whole array is made and then constrained to
        it. ``jax.jit(..., out_shardings=...)`` alone does not reach the initializer: the
        whole array is made on one device, then split. It prints as the call that made it,
        is hashable and pickles. A function using it cannot be given to ``jax.export``
        (:class:`ExportError` says what to do).

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> import weightinit as wi
    >>> from weightinit.jax import initializer, seed_from_key
    >>> kernel_init = initializer(wi.he_normal())
    >>> kernel_init
    weightinit.jax.initializer(he_normal())
    >>> key = jax.random.key(0)
    >>> w = kernel_init(key, (784, 256))
    >>> w.dtype, bool((np.asarray(w) == wi.he_normal()((784, 256), seed=seed_from_key(key))).all())
    (dtype('float32'), True)
    >>> bool((jax.jit(kernel_init, static_argnums=1)(key, (784, 256)) == w).all())
    True

    With a seed and a name, the values of :func:`weightinit.initialize` for that name:

    >>> named = initializer(wi.he_normal(), seed=0, name="fc1.kernel")
    >>> whole = wi.initialize({"fc1.kernel": (wi.he_normal(), (784, 256))}, seed=0)
    >>> bool((np.asarray(named(key, (784, 256))) == whole["fc1.kernel"]).all())
    True
    """
    made = registry.get(init)
    axes = (_hashable(in_axis), _hashable(out_axis), _hashable(batch_axis))
    # Checked here, once, with a shape of the rank that does not matter yet.
    options = Weight.checked((), layout, groups, blocks, **dict(zip(_AXES, axes, strict=True)))
    check_seed(seed)
    return JaxInitializer(made, options, seed, _checked_name(name, seed), axes)


class HaikuInitializer:
    """A Haiku initializer ``(shape, dtype) -> jax.Array``: what :func:`haiku_initializer`
    returns (see there)."""

    def __init__(self, inner: JaxInitializer) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"weightinit.jax.haiku_initializer({self.inner._arguments()})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HaikuInitializer):
            return NotImplemented
        return self.inner == other.inner

    def __hash__(self) -> int:
        return hash(self.inner)

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        try:
            import haiku
        except ImportError:
            raise ImportError("haiku_initializer needs Haiku: pip install dm-haiku.") from None
        if self.inner._key is None:
            return self.inner(haiku.next_rng_key(), shape, dtype)
        # Haiku's key is neither used nor drawn; a stand-in says whether this is traced.
        jax = jax_module()
        return self.inner(jax.numpy.zeros((2,), jax.numpy.uint32), shape, dtype)


def haiku_initializer(
    init: object,
    *,
    layout: str = "in_out",
    groups: int = 1,
    blocks: int = 1,
    seed: SeedLike = None,
    name: str | int | None = None,
    in_axis: int | Sequence[int] | None = None,
    out_axis: int | Sequence[int] | None = None,
    batch_axis: int | Sequence[int] = (),
) -> HaikuInitializer:
    """``init`` as a Haiku initializer ``(shape, dtype) -> jax.Array`` (``w_init``), keyed by
    ``haiku.next_rng_key()``: the values of :func:`initializer` for that key.

    The options are :func:`initializer`'s. With ``seed`` (and ``name``), Haiku's key is
    neither used nor drawn: the values are ``init(shape,
    seed=Key.from_seed(seed).fold_in(name))``, as for :func:`initializer`.

    Examples
    --------
    (Haiku, ``dm-haiku``, is not among the extras; ``tests/test_jax_keras.py`` runs this.)

    >>> import haiku as hk  # doctest: +SKIP
    >>> import jax
    >>> import weightinit as wi
    >>> from weightinit.jax import haiku_initializer
    >>> haiku_initializer(wi.he_normal(), seed=0, name="linear/w")
    weightinit.jax.haiku_initializer(he_normal(), seed=0, name='linear/w')
    >>> linear = lambda x: hk.Linear(8, w_init=haiku_initializer(wi.he_normal()))(x)
    >>> x = jax.numpy.ones((1, 4))
    >>> params = hk.transform(linear).init(jax.random.key(0), x)  # doctest: +SKIP
    >>> params["linear"]["w"].shape  # doctest: +SKIP
    (4, 8)
    """
    inner = initializer(
        init,
        layout=layout,
        groups=groups,
        blocks=blocks,
        seed=seed,
        name=name,
        in_axis=in_axis,
        out_axis=out_axis,
        batch_axis=batch_axis,
    )
    return HaikuInitializer(inner)
