"""Host-made values inside a traced function: one small JAX primitive over ``pure_callback``.

Under ``jax.jit`` the values are made by a host callback. It goes through a primitive of
its own rather than a bare ``jax.pure_callback`` for two reasons: its lowering rule sees
when the function is being exported (``jax.export``), where a host callback cannot be
serialized, and says what to do instead; and its batching rule keeps each key of a
``vmap`` its own call, so the values stay a pure function of the key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from weightinit.jax._keys import jax_module

__all__ = ["ExportError", "host_values"]

HostFunction = Callable[..., np.ndarray[Any, Any]]


class ExportError(RuntimeError):
    """A function that makes weightinit values inside it was given to ``jax.export``.

    The values are made on the host by a callback, which an exported (serialized) function
    cannot carry. Make them outside the exported function and pass them in as arguments.
    """

    __module__ = "weightinit.jax"


_EXPORT_ADVICE = (
    "weightinit.jax makes its values on the host with a callback, and jax.export cannot "
    "serialize host callbacks. Initialize outside the exported function (eagerly, e.g. "
    "params = model.init(key, x), or with weightinit.jax.make_array) and pass the values "
    "in as arguments: jax.export.export(jax.jit(model.apply))(params, x)."
)


@functools.cache
def _primitive() -> Any:
    """The primitive, made and registered with JAX once, on first use."""
    jax = jax_module()
    from jax.extend.core import Primitive
    from jax.interpreters import batching
    from jax.interpreters import mlir

    prim: Any = Primitive("weightinit_values")

    def impl(*operands: Any, fn: HostFunction, shape: tuple[int, ...], dtype: Any) -> Any:
        return jax.device_put(fn(*(np.asarray(o) for o in operands)))

    def abstract(*operands: Any, fn: HostFunction, shape: tuple[int, ...], dtype: Any) -> Any:
        return jax.core.ShapedArray(shape, dtype)

    def lowering(
        ctx: Any, *operands: Any, fn: HostFunction, shape: tuple[int, ...], dtype: Any
    ) -> Any:
        parameters = getattr(ctx.module_context, "lowering_parameters", None)
        if getattr(parameters, "for_export", False):
            raise ExportError(_EXPORT_ADVICE)
        result = jax.ShapeDtypeStruct(shape, dtype)

        def call(*args: Any) -> Any:
            return jax.pure_callback(fn, result, *args, vmap_method="sequential")

        return mlir.lower_fun(call, multiple_results=False)(ctx, *operands)

    def batch(args: Any, dims: Any, *, fn: HostFunction, shape: tuple[int, ...], dtype: Any) -> Any:
        size = next(a.shape[d] for a, d in zip(args, dims, strict=True) if d is not None)
        moved = [
            jax.numpy.broadcast_to(a, (size, *a.shape))
            if d is None
            else jax.numpy.moveaxis(a, d, 0)
            for a, d in zip(args, dims, strict=True)
        ]
        out = prim.bind(*moved, fn=_stacked(fn), shape=(size, *shape), dtype=dtype)
        return out, 0

    prim.def_impl(impl)
    prim.def_abstract_eval(abstract)
    mlir.register_lowering(prim, lowering)
    batching.primitive_batchers[prim] = batch
    return prim


@functools.lru_cache(maxsize=1024)
def _stacked(fn: HostFunction) -> HostFunction:
    """``fn`` over a leading batch axis of its operands, one call per entry (cached, so a
    batched call is the same function every time and compiled functions are reused)."""

    def stacked(*operands: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.stack([fn(*entry) for entry in zip(*operands, strict=True)])

    return stacked


def host_values(fn: HostFunction, shape: tuple[int, ...], dtype: Any, *operands: Any) -> Any:
    """``fn(*operands)`` made on the host, as a traceable ``jax.Array`` of ``shape`` and
    ``dtype``; ``fn`` should be the same object for the same values, so that compiled
    functions are reused."""
    return _primitive().bind(*operands, fn=fn, shape=shape, dtype=np.dtype(dtype))
