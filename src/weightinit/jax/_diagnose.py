"""The signals of a Flax linen model at initialization: one forward and backward pass of the
user's own model on a batch, reduced per module into a :class:`~weightinit.signals.SignalReport`.

Every submodule's ``__call__`` is intercepted (``flax.linen.intercept_methods``): its output is
recorded in the order the calls return, and a zero is added to it whose gradient is the loss's
gradient with respect to that output. A first, abstract pass (``jax.eval_shape``) finds the
modules, their classes and their output shapes; the second computes the outputs and the
gradients in one ``jax.value_and_grad``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from weightinit.jax._keys import jax_module as _jax
from weightinit.signals import LayerSignal
from weightinit.signals import OutputSignal
from weightinit.signals import SignalReport
from weightinit.signals import summarize
from weightinit.signals import verdicts

__all__ = ["diagnose"]

#: A composite module whose name or class says this is a residual block (``Block_0``,
#: ``ResNetBlock_2``, ``layers_3``, ``EncoderLayer``).
_BLOCK = re.compile(r"block|layer", re.IGNORECASE)
#: The labels of the default cross-entropy are drawn from this seed.
_LABEL_SEED = 0


@dataclass
class _Frame:
    """A module call in progress."""

    module: Any
    name: str
    composite: bool = False


@dataclass
class _Recorder:
    """The interceptor of both passes: it names and orders the outputs, and in the second pass
    (``eps`` given) adds each one's zero and keeps the values."""

    eps: list[Any] | None = None
    names: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    blocks: list[bool] = field(default_factory=list)
    shapes: list[Any] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    inputs: list[Any] = field(default_factory=list)
    failed: tuple[str, str] | None = None
    stack: list[_Frame] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)

    def name(self, path: tuple[str, ...]) -> str:
        base = ".".join(str(p) for p in path)
        count = self.seen.get(base, 0)
        self.seen[base] = count + 1
        return base if count == 0 else f"{base}#{count}"

    def mark(self, name: str, kind: str, value: Any, given: Any = None, block: bool = False) -> Any:
        """Record ``value`` as the next row (a floating-point array only) and return it with
        its zero added."""
        jnp = _jax().numpy
        if not (hasattr(value, "shape") and hasattr(value, "dtype")):
            return value
        if not jnp.issubdtype(value.dtype, jnp.floating):
            return value
        index = len(self.names)
        self.names.append(name)
        self.kinds.append(kind)
        self.blocks.append(block)
        self.shapes.append((tuple(value.shape), value.dtype))
        if self.eps is not None:
            value = value + self.eps[index]
            self.values.append(value)
            self.inputs.append(given if block else None)
        return value

    def sequential_step(self, module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """In an ``nn.Sequential``, the input of a module that follows an activation function
        is that function's output: record it as the function's row."""
        nn = _linen()
        parent = self.stack[-1].module if self.stack else None
        if not isinstance(parent, nn.Sequential) or not args:
            return args
        layers = list(parent.layers)
        index = next((i for i, layer in enumerate(layers) if layer is module), None)
        if not index or isinstance(layers[index - 1], nn.Module):
            return args
        function = layers[index - 1]
        name = self.name((*parent.path, f"layers_{index - 1}"))
        first = self.mark(name, _function_kind(function), args[0])
        return (first, *args[1:])

    def sequential_end(self, module: Any, output: Any) -> Any:
        """The output of an ``nn.Sequential`` that ends with an activation function."""
        nn = _linen()
        if not isinstance(module, nn.Sequential) or not module.layers:
            return output
        last = module.layers[-1]
        if isinstance(last, nn.Module):
            return output
        name = self.name((*module.path, f"layers_{len(module.layers) - 1}"))
        return self.mark(name, _function_kind(last), output)

    def __call__(self, next_fun: Callable[..., Any], args: Any, kwargs: Any, context: Any) -> Any:
        if context.method_name != "__call__":
            return next_fun(*args, **kwargs)
        module = context.module
        path = tuple(module.path)
        kind = type(module).__name__
        if self.stack:
            self.stack[-1].composite = True
        args = self.sequential_step(module, tuple(args))
        name = self.name(path) if path else ""
        frame = _Frame(module, name)
        self.stack.append(frame)
        try:
            output = next_fun(*args, **kwargs)
        except Exception:
            if self.failed is None:
                self.failed = (name, kind)
            raise
        finally:
            self.stack.pop()
        output = self.sequential_end(module, output)
        if not path:
            return output
        given: Any = args[0] if args else None
        block = (
            frame.composite
            and bool(_BLOCK.search(path[-1]) or _BLOCK.search(kind))
            and hasattr(given, "shape")
            and hasattr(output, "shape")
            and tuple(given.shape) == tuple(output.shape)
        )
        return self.mark(name, kind, output, given, block)


def _linen() -> Any:
    _jax()
    try:
        import flax.linen as nn
    except ImportError:
        raise ImportError(
            "weightinit.jax.diagnose needs Flax: install it with pip install flax."
        ) from None
    return nn


def _function_kind(function: Any) -> str:
    return str(getattr(function, "__name__", type(function).__name__))


def _located(error: Exception, failed: tuple[str, str], model: str) -> Exception:
    """``error`` again, its message led by the module that raised it."""
    name, kind = failed
    where = f"module {name!r} ({kind})" if name else f"the root module ({kind})"
    text = f"the forward pass of {model} failed in {where}: {type(error).__name__}: {error}"
    try:
        located = type(error)(text)
    except Exception:
        return RuntimeError(text)
    return located if str(located) == text else RuntimeError(text)


def _variables(params: Any) -> dict[str, Any]:
    if isinstance(params, Mapping) and "params" in params:
        return dict(params)
    if isinstance(params, Mapping):
        return {"params": params}
    raise TypeError(
        "params must be a Flax variables dict ({'params': ..., 'batch_stats': ...}) or the "
        f"params alone; got {type(params).__name__}."
    )


def _batch_text(batch: tuple[Any, ...]) -> str:
    parts = []
    for item in batch:
        if hasattr(item, "shape") and hasattr(item, "dtype"):
            parts.append(f"{tuple(item.shape)} {np.dtype(item.dtype).name}")
        else:
            parts.append(type(item).__name__)
    return ", ".join(parts)


def _float_leaves(output: Any) -> list[Any]:
    jax = _jax()
    return [
        leaf
        for leaf in jax.tree_util.tree_leaves(output)
        if hasattr(leaf, "dtype") and jax.numpy.issubdtype(leaf.dtype, jax.numpy.floating)
    ]


def _default_loss(output: Any, classes: int | None) -> Any:
    """Cross-entropy against fixed labels for ``(N, C)`` logits; else the mean square."""
    jax = _jax()
    jnp = jax.numpy
    if classes is not None:
        logits = output.astype(jnp.float32)
        labels = np.random.default_rng(_LABEL_SEED).integers(0, classes, logits.shape[0])
        picked = jnp.take_along_axis(
            jax.nn.log_softmax(logits, axis=-1), jnp.asarray(labels)[:, None], axis=-1
        )
        return -picked.mean()
    leaves = _float_leaves(output)
    if not leaves:
        raise TypeError(
            "diagnose needs a floating-point output for its default loss; got "
            f"{type(output).__name__}. Pass loss=(output, batch) -> scalar."
        )
    return sum(jnp.mean(jnp.square(leaf.astype(jnp.float32))) for leaf in leaves) / len(leaves)


def _classes(output: Any) -> int | None:
    jnp = _jax().numpy
    if (
        hasattr(output, "ndim")
        and output.ndim == 2
        and output.shape[-1] > 1
        and jnp.issubdtype(output.dtype, jnp.floating)
    ):
        return int(output.shape[-1])
    return None


def _resolve(apply_fn: Any, model: Any, method: Any) -> tuple[Callable[..., Any], Any, bool]:
    """The function to call, the linen module if known, and whether it is a module's
    ``apply`` (which takes ``mutable`` and ``method``)."""
    nn = _linen()
    if isinstance(apply_fn, nn.Module):
        return apply_fn.apply, apply_fn, True
    owner = getattr(apply_fn, "__self__", None)
    if isinstance(owner, nn.Module) and getattr(apply_fn, "__name__", "") == "apply":
        return apply_fn, owner, True
    if not callable(apply_fn):
        raise TypeError(
            "apply_fn must be a linen module, its apply, or a function (variables, *batch) -> "
            f"output; got {type(apply_fn).__name__}."
        )
    if method is not None:
        raise TypeError(
            "method= needs a linen module or its apply as apply_fn; a plain function chooses "
            "its own method."
        )
    return apply_fn, model, False


def diagnose(
    apply_fn: Any,
    params: Any,
    batch: Any,
    *,
    loss: Callable[[Any, Any], Any] | None = None,
    method: Any = None,
    model: Any = None,
    **kwargs: Any,
) -> SignalReport:
    """Per-layer forward and backward statistics of a Flax linen model on one batch, with
    verdicts on what is wrong at initialization.

    One row per submodule call, in the order the calls return (a block after its layers):
    the statistics of :func:`weightinit.signals.summarize` of its output, channels on the
    last axis, and ``grad_rms``, the root mean square of the loss's gradient with respect to
    that output (the true activation gradient: a zero is added to each output and
    differentiated). In an ``nn.Sequential`` the outputs of its activation functions get rows
    too (``layers_1``, kind ``tanh``); functions called inside a compact ``__call__`` do not.
    The root module's output is the report's ``output``, not a row; outputs that are not
    floating-point arrays are skipped; a module called twice has a second row ``name#1``.
    Modules that run inside a lifted transform (``nn.remat``, ``nn.scan``, ``nn.vmap``) have
    no rows: their outputs exist only inside the transform's trace.

    A composite module whose name or class says ``block`` or ``layer`` and whose first input
    has its output's shape is read as a residual block: ``branch_var`` is the pooled variance
    of ``y - x`` and ``stream_var`` that of ``x``.

    Collections other than ``params`` (``batch_stats``) are passed mutable, so a batch norm in
    training mode normalises with the batch's statistics as at the first training step; the
    updates are discarded and ``params`` is not changed.

    Parameters
    ----------
    apply_fn
        A linen module, its ``apply``, or a function ``(variables, *batch, **kwargs) ->
        output`` (then ``model=`` names it and ``method=`` is not allowed).
    params
        The variables (``{"params": ..., "batch_stats": ...}``) or the params alone.
    batch
        An array or a tuple of arrays: the positional inputs.
    loss
        ``(output, batch) -> scalar``. ``None``: for ``(N, C)`` floating logits the
        cross-entropy against labels drawn with seed 0 (and the report's ``output`` compares it
        with ``ln C``); otherwise the mean square of the output.
    method
        The module's method to apply (as in ``Module.apply``).
    model
        The linen module, to name the report when ``apply_fn`` is a plain function.
    **kwargs
        Passed to the call: ``train=True``, ``rngs={"dropout": key}``.

    Returns
    -------
    SignalReport
        The rows, the output's logit std and first loss, and the verdicts.

    Raises
    ------
    TypeError
        For an ``apply_fn``, ``params`` or ``loss`` of the wrong kind.
    Exception
        An error of the forward pass, of its own type where it can be rebuilt, its message led
        by the module that raised it.

    Examples
    --------
    >>> import jax
    >>> import flax.linen as nn
    >>> from weightinit.jax import diagnose
    >>> model = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(10)])
    >>> x = jax.random.normal(jax.random.key(0), (64, 16))
    >>> variables = model.init(jax.random.key(1), x)
    >>> report = diagnose(model, variables, x)
    >>> [(s.name, s.kind) for s in report.layers]
    [('layers_0', 'Dense'), ('layers_1', 'relu'), ('layers_2', 'Dense')]
    >>> report.output.classes, report.layers[0].grad_rms > 0
    (10, True)
    """
    jax = _jax()
    jnp = jax.numpy
    nn = _linen()
    call, module, is_apply = _resolve(apply_fn, model, method)
    variables = _variables(params)
    inputs = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    title = (
        type(module).__name__
        if isinstance(module, nn.Module)
        else str(getattr(apply_fn, "__name__", type(apply_fn).__name__))
    )
    mutable = [name for name in variables if name != "params"]

    def forward(recorder: _Recorder) -> Any:
        extra = dict(kwargs)
        if is_apply:
            extra["mutable"] = mutable or False
            if method is not None:
                extra["method"] = method
        with nn.intercept_methods(recorder):
            result = call(variables, *inputs, **extra)
        return result[0] if is_apply and mutable else result

    probe = _Recorder()
    try:
        shapes = jax.eval_shape(lambda: forward(probe))
    except Exception as error:
        if probe.failed is None:
            raise
        raise _located(error, probe.failed, title) from error
    classes = _classes(shapes) if loss is None else None

    def objective(eps: list[Any]) -> tuple[Any, tuple[Any, list[Any], list[Any]]]:
        recorder = _Recorder(eps=eps)
        output = forward(recorder)
        value = _default_loss(output, classes) if loss is None else loss(output, batch)
        if not (hasattr(value, "shape") and value.shape == ()):
            raise TypeError(
                f"loss must return a scalar; got {getattr(value, 'shape', type(value).__name__)}."
            )
        return value, (output, recorder.values, recorder.inputs)

    zeros = [jnp.zeros(shape, dtype) for shape, dtype in probe.shapes]
    (value, (output, values, given)), grads = jax.value_and_grad(objective, has_aux=True)(zeros)

    layers: list[LayerSignal] = []
    for index, name in enumerate(probe.names):
        if isinstance(values[index], jax.core.Tracer):
            # Traced inside a lifted transform (nn.remat, nn.scan, nn.vmap): not a value here.
            continue
        y = np.asarray(values[index])
        stats = summarize(y, channel_axis=-1, kind=probe.kinds[index])
        grad = np.asarray(grads[index], dtype=np.float32)
        grad_rms = float(np.sqrt(np.mean(np.square(grad), dtype=np.float64))) if grad.size else 0.0
        branch = stream = None
        if probe.blocks[index]:
            x = np.asarray(given[index], dtype=np.float64)
            branch = float(np.var(y.astype(np.float64) - x))
            stream = float(np.var(x))
        layers.append(
            LayerSignal(
                name,
                probe.kinds[index],
                len(layers),
                grad_rms=grad_rms,
                branch_var=branch,
                stream_var=stream,
                shape=tuple(int(d) for d in y.shape),
                **stats,
            )
        )
    leaves = _float_leaves(output)
    pooled = [np.asarray(leaf, np.float64).ravel() for leaf in leaves]
    logit_std = float(np.concatenate(pooled).std()) if pooled else 0.0
    signal = OutputSignal(logit_std, float(value), classes)
    return SignalReport(
        model=title,
        batch=_batch_text(inputs),
        layers=layers,
        output=signal,
        verdicts=verdicts(layers, signal),
        audit=None,
    )
