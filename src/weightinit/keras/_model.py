"""Whole built Keras models in one call, with the plans of ``weightinit.torch``.

Each weight is read from its layer's class (``Dense``, ``EinsumDense`` with its equation's
axes, convolutions, depthwise and transposed ones, ``Embedding``, norms, recurrent cells'
gates) and named by its variable path in PyTorch's words (``fc1/kernel`` is
``fc1.weight``), so one seed gives a model written alike in Keras, PyTorch and JAX the same
values up to layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from weightinit._fans import Weight
from weightinit._places import Leaf
from weightinit._places import host_dtype
from weightinit._planning import ModelPlan
from weightinit._planning import plan as plan_leaves
from weightinit.model import initialize as initialize_params
from weightinit.roles import Slot
from weightinit.seeds import SeedLike
from weightinit.seeds import check_seed

__all__ = ["initialize", "plan"]

_FRAMEWORK = "weightinit.keras"
_WORDS = {"kernel": "weight", "gamma": "weight", "embeddings": "weight", "beta": "bias"}
#: A batch norm's running statistics, at the values Keras starts them at.
_STATS = {"moving_mean": 0.0, "moving_variance": 1.0}
_NORMS = (
    "LayerNormalization",
    "BatchNormalization",
    "GroupNormalization",
    "RMSNormalization",
    "SpectralNormalization",
)
_GATES = {"LSTMCell": 4, "GRUCell": 3, "SimpleRNNCell": 1}


def _owners(model: Any) -> dict[int, Any]:
    """Each variable's own layer, by the variable's id."""
    owners: dict[int, Any] = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for variable in list(layer._trainable_variables) + list(layer._non_trainable_variables):
            owners[id(variable)] = layer
    return owners


def _einsum_axes(equation: str, rank: int) -> dict[str, tuple[int, ...]] | None:
    """The in, out and batch axes of an ``EinsumDense`` kernel: the kernel's subscripts
    summed over are its inputs, those in the output only its outputs, those in both its
    batch axes."""
    try:
        inputs, output = equation.replace(" ", "").split("->")
        source, kernel = inputs.split(",")
    except ValueError:
        return None
    if len(kernel) != rank or "." in equation:
        return None
    ins = tuple(i for i, c in enumerate(kernel) if c in source and c not in output)
    outs = tuple(i for i, c in enumerate(kernel) if c in output and c not in source)
    batch = tuple(i for i, c in enumerate(kernel) if c in source and c in output)
    if not ins or not outs:
        return None
    return {"in_axis": ins, "out_axis": outs, "batch_axis": batch}


def _slot(layer: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
    kind = type(layer).__name__
    if kind == "Dense":
        if leaf == "kernel":
            return Slot("projection", Weight.checked(shape, "in_out", 1, 1))
        return Slot("bias", Weight.checked(shape, "in_out", 1, 1), fan_in=_kernel_in(layer))
    if kind == "EinsumDense":
        if leaf == "kernel":
            axes = _einsum_axes(str(layer.equation), len(shape))
            if axes is None:
                return None
            return Slot("projection", Weight.checked(shape, "in_out", 1, 1, **axes))
        return Slot("bias", Weight.checked(shape, "in_out", 1, 1))
    if kind.startswith("Conv") and kind.endswith("Transpose"):
        if leaf == "kernel":
            return Slot("convolution", Weight.checked(shape, "keras_transposed", 1, 1))
        return Slot("bias", Weight.checked(shape, "in_out", 1, 1))
    if kind.startswith("DepthwiseConv") or (
        kind.startswith("SeparableConv") and leaf != "pointwise_kernel"
    ):
        if leaf in ("kernel", "depthwise_kernel"):
            return Slot("convolution", Weight.checked(shape, "keras_depthwise", 1, 1))
        return Slot("bias", Weight.checked(shape, "in_out", 1, 1))
    if kind.startswith(("Conv", "SeparableConv")):
        if leaf in ("kernel", "pointwise_kernel"):
            groups = int(getattr(layer, "groups", 1) or 1)
            return Slot("convolution", Weight.checked(shape, "in_out", groups, 1))
        return Slot("bias", Weight.checked(shape, "in_out", 1, 1), fan_in=_kernel_in(layer))
    if kind == "Embedding" and leaf == "embeddings":
        return Slot("embedding", Weight.checked(shape, "in_out", 1, 1))
    if kind in _NORMS:
        if leaf == "gamma":
            return Slot("norm_gain", Weight.checked(shape, "in_out", 1, 1), value=1.0)
        if leaf == "beta":
            return Slot("norm_bias", Weight.checked(shape, "in_out", 1, 1))
        return None
    gates = _GATES.get(kind)
    if gates is not None:
        units = int(layer.units)
        if leaf == "kernel":
            weight = Weight.checked(shape, "in_out", 1, gates)
            return Slot("recurrent_input", weight, hidden=units)
        if leaf == "recurrent_kernel":
            weight = Weight.checked(shape, "in_out", 1, gates)
            return Slot("recurrent_hidden", weight, hidden=units)
        if leaf == "bias":
            return Slot("recurrent_bias", Weight.checked(shape, "in_out", 1, 1), hidden=units)
    return None


def _kernel_in(layer: Any) -> int | None:
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return None
    shape = tuple(int(d) for d in kernel.shape)
    return int(np.prod(shape[:-1])) if len(shape) >= 2 else None


def _read(model: Any) -> tuple[list[Leaf], list[tuple[Any, str, float | None]]]:
    """The model's weights as leaves, and every variable with its canonical name (and, for
    a running statistic, its start)."""
    if not getattr(model, "built", False):
        raise ValueError(
            f"weightinit.keras.initialize needs a built model; {model.name!r} is not built yet: "
            "call it on a batch or call model.build(input_shape) first."
        )
    owners = _owners(model)
    leaves = []
    variables: list[tuple[Any, str, float | None]] = []
    for variable in model.weights:
        path = str(variable.path)
        # A Sequential model builds its layers under its own name: names start below it.
        parts = path.split("/")
        if len(parts) > 2 and parts[0] == model.name:
            parts = parts[1:]
        leaf = parts[-1]
        name = ".".join((*parts[:-1], _WORDS.get(leaf, leaf)))
        shape = tuple(int(d) for d in variable.shape)
        dtype = np.dtype(
            keras.backend.standardize_dtype(variable.dtype).replace("bfloat16", "float32")
        )
        if leaf in _STATS:
            variables.append((variable, name, _STATS[leaf]))
            continue
        variables.append((variable, name, None))
        layer = owners.get(id(variable))
        kind = type(layer).__name__ if layer is not None else "variable"
        if not np.issubdtype(dtype, np.floating):
            leaves.append(
                Leaf(
                    name,
                    path,
                    ".".join(parts[:-1]),
                    f"{kind} variable of dtype {dtype}",
                    shape,
                    np.dtype(np.float32),
                    hint="weightinit makes floating-point weights only",
                )
            )
            continue
        slot = _slot(layer, leaf, shape) if layer is not None else None
        host = host_dtype(dtype)
        leaves.append(Leaf(name, path, ".".join(parts[:-1]), kind, shape, host, slot))
    return leaves, variables


def plan(
    model: Any,
    *,
    scheme: object = "recommended",
    activation: object = None,
    rules: Mapping[str, object] | None = None,
    roles: Mapping[str, object] | None = None,
) -> ModelPlan:
    """What :func:`initialize` gives each weight of the built ``model``, by canonical name.

    Examples
    --------
    >>> import keras
    >>> from weightinit.keras import plan
    >>> model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, name="fc1"),
    ...                           keras.layers.Dense(10, name="fc2")])
    >>> p = plan(model, activation="relu")
    >>> p["fc1.weight"].initializer, p.slots["fc2.weight"].role
    (he_normal(), 'head')
    >>> p.paths["fc1.weight"] == f"{model.name}/fc1/kernel"  # the variable's path
    True
    """
    return _planned(model, scheme, activation, rules, roles)[0]


def _planned(
    model: Any,
    scheme: object,
    activation: object,
    rules: Mapping[str, object] | None,
    roles: Mapping[str, object] | None,
) -> tuple[ModelPlan, list[tuple[Any, str, float | None]]]:
    """The plan of ``model``, and every variable with its canonical name (and a running
    statistic's start), for :func:`initialize` to fill."""
    leaves, variables = _read(model)
    made = plan_leaves(
        leaves,
        scheme=scheme,
        activation=activation,
        rules=rules,
        roles=roles,
        framework=_FRAMEWORK,
        sequential=isinstance(model, keras.Sequential),
    )
    return made, variables


def initialize(
    model: Any,
    seed: SeedLike,
    *,
    scheme: object = "recommended",
    activation: object = None,
    rules: Mapping[str, object] | None = None,
    roles: Mapping[str, object] | None = None,
    threads: int | None = None,
) -> Any:
    """Set every weight of the built Keras ``model`` from one seed, as :func:`plan` says, and
    return the model.

    Weight ``name`` (its canonical name: the variable path in PyTorch's words) is drawn with
    ``Key.from_seed(seed).fold_in(name)``; batch norms' running statistics start at mean 0
    and variance 1. ``scheme``, ``activation``, ``rules`` and ``roles`` are those of
    ``weightinit.jax.initialize``. Nothing is changed unless the whole plan stands.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> import weightinit as wi
    >>> from weightinit.keras import initialize
    >>> model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, name="fc1")])
    >>> _ = initialize(model, seed=0, activation="relu")
    >>> kernel = keras.ops.convert_to_numpy(model.get_layer("fc1").kernel.value)
    >>> key = wi.Key.from_seed(0).fold_in("fc1.weight")
    >>> bool((kernel == wi.he_normal()((784, 32), seed=key)).all())
    True
    """
    check_seed(seed)
    made_plan, variables = _planned(model, scheme, activation, rules, roles)
    arrays = initialize_params(dict(made_plan), seed, threads=threads)
    for variable, name, stat in variables:
        dtype = keras.backend.standardize_dtype(variable.dtype)
        if stat is not None:
            value = np.full(tuple(variable.shape), stat, dtype=np.float32)
        else:
            value = arrays[name]
        if dtype in ("float16", "float32", "float64") and value.dtype != dtype:
            value = value.astype(dtype)
        variable.assign(
            value if dtype in ("float16", "float32", "float64") else keras.ops.cast(value, dtype)
        )
    return model
