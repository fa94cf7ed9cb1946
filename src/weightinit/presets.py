"""The default initialisations of PyTorch, Keras, Flax and Haiku layers, as initializers.

Each preset reproduces the *distribution* a framework gives a freshly built layer's weight
(``<framework>.<layer>``) or bias (``<framework>.<layer>.bias``), and names the layout that
framework stores the weight in. Every preset is also reachable through
:func:`weightinit.get` by its dotted name. Presets that are fan-scaled are
``variance_scaling`` objects and compare equal to the corresponding call.

PyTorch's presets were checked against PyTorch 2.13 itself (the parity tests compare fans,
variances and sampled tensors). Keras', Flax's and Haiku's were checked against their
documented defaults: Keras 3 (``keras.layers.Dense``/``Conv2D``: ``glorot_uniform`` kernel,
zero bias; ``Embedding``: ``RandomUniform(-0.05, 0.05)``), Flax ``linen`` 0.6 to 0.10
(``Dense``/``Conv``: ``lecun_normal``, i.e. ``variance_scaling(1.0, "fan_in",
"truncated_normal")``, zero bias) and Haiku 0.0.x (``Linear``: ``TruncatedNormal(stddev=1 /
sqrt(fan_in))``, zero bias).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import math
import warnings
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

from weightinit import families
from weightinit import named
from weightinit._errors import SIZE_LIMIT
from weightinit._errors import choice_error
from weightinit._errors import integer
from weightinit._errors import normalise_name
from weightinit.distributions import TRUNCATION_STD
from weightinit.distributions import Distribution
from weightinit.distributions import UndefinedDistribution
from weightinit.initializers import Initializer
from weightinit.initializers import Weight
from weightinit.initializers import labelled

__all__ = ["PRESETS", "PRESET_LAYOUTS", "Recurrent", "describe", "fan_in_bias", "preset"]


def _pytorch_default() -> families.VarianceScaling:
    # kaiming_uniform_(w, a=sqrt(5)): gain sqrt(2 / (1 + 5)) = sqrt(1/3), bound
    # gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in); that is variance 1 / (3 fan_in).
    return families.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def fan_in_bias(fan_in: int) -> families.Uniform:
    """PyTorch's default bias: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, ``fan_in`` of the weight.

    A bias has no fans of its own, so the weight's ``fan_in`` is a parameter.

    Examples
    --------
    >>> from weightinit.presets import fan_in_bias
    >>> fan_in_bias(400) == __import__("weightinit").uniform(-0.05, 0.05)
    True
    """
    count = integer("fan_in", fan_in, minimum=1, maximum=SIZE_LIMIT - 1)
    bound = 1.0 / math.sqrt(count)
    return families.uniform(-bound, bound)


@dataclass(frozen=True)
class Recurrent(Initializer):
    """``U(-1/sqrt(hidden), 1/sqrt(hidden))`` with ``hidden = shape[0] // gates``.

    PyTorch's ``LSTM`` (4 gates) and ``GRU`` (3 gates) draw every weight and bias this way;
    their weights are ``(gates * hidden, input)`` or ``(gates * hidden, hidden)`` and their
    biases ``(gates * hidden,)``, so the hidden size is read from the first axis.
    """

    gates: int = 4
    _name = "recurrent"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "gates", integer("gates", self.gates, minimum=1, maximum=SIZE_LIMIT - 1)
        )

    def _recipe(self, weight: Weight) -> Distribution:
        shape = weight.shape
        if not shape:
            raise ValueError("a recurrent weight or bias needs at least one axis.")
        reason = (
            f"the first axis of {shape} must be {self.gates} x hidden size (one block per "
            f"gate); {shape[0]} is not a positive multiple of {self.gates}."
        )
        if shape[0] == 0:
            return UndefinedDistribution(reason)  # an empty weight is still made
        if shape[0] % self.gates:
            raise ValueError(reason)
        # The law of a bias of fan-in ``hidden``: one formula for both.
        return fan_in_bias(shape[0] // self.gates)._recipe(weight)


def _recurrent(gates: int) -> Callable[[], Recurrent]:
    return lambda: Recurrent(gates)


_HAIKU_SCALE = TRUNCATION_STD**2

#: Dotted name -> (factory, the framework's weight layout, what it reproduces).
PRESETS: dict[str, tuple[Callable[..., Initializer], str, str]] = {
    "pytorch.linear": (_pytorch_default, "out_in", "torch.nn.Linear weight"),
    "pytorch.linear.bias": (fan_in_bias, "out_in", "torch.nn.Linear bias (needs fan_in)"),
    "pytorch.conv1d": (_pytorch_default, "out_in", "torch.nn.Conv1d weight"),
    "pytorch.conv1d.bias": (fan_in_bias, "out_in", "torch.nn.Conv1d bias (needs fan_in)"),
    "pytorch.conv2d": (_pytorch_default, "out_in", "torch.nn.Conv2d weight"),
    "pytorch.conv2d.bias": (fan_in_bias, "out_in", "torch.nn.Conv2d bias (needs fan_in)"),
    "pytorch.conv3d": (_pytorch_default, "out_in", "torch.nn.Conv3d weight"),
    "pytorch.conv3d.bias": (fan_in_bias, "out_in", "torch.nn.Conv3d bias (needs fan_in)"),
    # PyTorch reads the fan-in of a transposed kernel (in, out/groups, *k) from axis 1, that
    # is the output channels per group times the kernel: our fan_out in that layout.
    "pytorch.conv_transpose2d": (
        lambda: families.variance_scaling(1.0 / 3.0, "fan_out", "uniform"),
        "pytorch_transposed",
        "torch.nn.ConvTranspose2d weight",
    ),
    "pytorch.conv_transpose2d.bias": (
        fan_in_bias,
        "pytorch_transposed",
        "torch.nn.ConvTranspose2d bias (PyTorch's fan_in: out/groups * kernel; needs fan_in)",
    ),
    "pytorch.embedding": (lambda: families.scaled_normal(1.0), "in_out", "torch.nn.Embedding"),
    "pytorch.multihead_attention": (
        named.glorot_uniform,
        "out_in",
        "torch.nn.MultiheadAttention in_proj_weight (xavier_uniform_ over the packed q, k, v)",
    ),
    "pytorch.multihead_attention.bias_kv": (
        named.glorot_normal,
        "out_in",
        "torch.nn.MultiheadAttention bias_k and bias_v (xavier_normal_)",
    ),
    "pytorch.transformer": (
        named.glorot_uniform,
        "out_in",
        "torch.nn.Transformer: every weight of 2+ axes re-drawn with xavier_uniform_",
    ),
    "pytorch.layer_norm": (
        families.ones,
        "out_in",
        "torch.nn.LayerNorm / BatchNorm / GroupNorm weight",
    ),
    "pytorch.layer_norm.bias": (
        families.zeros,
        "out_in",
        "torch.nn.LayerNorm / BatchNorm / GroupNorm bias",
    ),
    "pytorch.prelu": (lambda: families.constant(0.25), "out_in", "torch.nn.PReLU weight"),
    "pytorch.lstm": (_recurrent(4), "out_in", "torch.nn.LSTM weights"),
    "pytorch.lstm.bias": (_recurrent(4), "out_in", "torch.nn.LSTM biases"),
    "pytorch.gru": (_recurrent(3), "out_in", "torch.nn.GRU weights"),
    "pytorch.gru.bias": (_recurrent(3), "out_in", "torch.nn.GRU biases"),
    "keras.dense": (named.glorot_uniform, "in_out", "keras.layers.Dense kernel"),
    "keras.dense.bias": (families.zeros, "in_out", "keras.layers.Dense bias"),
    "keras.conv2d": (named.glorot_uniform, "in_out", "keras.layers.Conv2D kernel"),
    "keras.conv2d.bias": (families.zeros, "in_out", "keras.layers.Conv2D bias"),
    "keras.embedding": (
        lambda: families.uniform(-0.05, 0.05),
        "in_out",
        "keras.layers.Embedding (RandomUniform(-0.05, 0.05))",
    ),
    "flax.dense": (
        lambda: families.variance_scaling(1.0, "fan_in", "truncated_normal"),
        "in_out",
        "flax.linen.Dense kernel (lecun_normal)",
    ),
    "flax.dense.bias": (families.zeros, "in_out", "flax.linen.Dense bias"),
    "flax.conv": (
        lambda: families.variance_scaling(1.0, "fan_in", "truncated_normal"),
        "in_out",
        "flax.linen.Conv kernel (lecun_normal)",
    ),
    "flax.conv.bias": (families.zeros, "in_out", "flax.linen.Conv bias"),
    # TruncatedNormal(stddev=1/sqrt(fan_in)) cut at two of those standard deviations: the
    # variance is 0.8796...^2 / fan_in, i.e. variance_scaling with that scale.
    "haiku.linear": (
        lambda: families.variance_scaling(_HAIKU_SCALE, "fan_in", "truncated_normal"),
        "in_out",
        "haiku.Linear w (TruncatedNormal(1 / sqrt(fan_in)))",
    ),
    "haiku.linear.bias": (families.zeros, "in_out", "haiku.Linear b"),
}

_VERSIONS = {
    "pytorch": "PyTorch 2.13",
    "keras": "Keras 3",
    "flax": "Flax linen 0.6-0.10",
    "haiku": "Haiku 0.0.x",
}
_LAYOUT_WORDS = {
    "out_in": "(out, in, *kernel)",
    "in_out": "(*kernel, in, out)",
    "pytorch_transposed": "(in, out / groups, *kernel)",
}


def _names_itself(init: Initializer) -> bool:
    """Whether ``init`` prints as a named preset or a public factory's call (not as a bare
    ``variance_scaling(...)`` or a ``get({...})`` of a private class)."""
    if isinstance(init, families.VarianceScaling):
        return init.named_call() is not None
    return type(init)._public


def _needs(factory: Callable[..., Initializer]) -> tuple[str, ...]:
    """The parameters a preset's factory cannot do without (``fan_in`` for PyTorch's
    biases)."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = inspect.signature(factory).parameters.values()
    return tuple(p.name for p in parameters if p.kind in kinds and p.default is p.empty)


def _documented(
    name: str, factory: Callable[..., Initializer], layout: str, what: str
) -> Callable[..., Initializer]:
    """Wrap ``factory`` in a function whose docstring names the layer, version and layout."""

    @functools.wraps(factory)
    def make(*args: object, **kwargs: object) -> Initializer:
        init = factory(*args, **kwargs)
        if not _names_itself(init):
            # Neither a named preset nor a public factory says what this is: the framework's
            # default does.
            return labelled(init, f"presets.preset({name!r})")
        return init

    framework = name.split(".")[0]
    make.__name__ = make.__qualname__ = name.replace(".", "_")
    make.__doc__ = (
        f"{what}: the default of {_VERSIONS[framework]}, whose layout is "
        f"{layout!r} {_LAYOUT_WORDS[layout]}."
    )
    return make


PRESETS = {
    name: (_documented(name, factory, layout, what), layout, what)
    for name, (factory, layout, what) in PRESETS.items()
}

#: Dotted name -> the layout the framework stores that weight in.
PRESET_LAYOUTS: dict[str, str] = {name: layout for name, (_, layout, _) in PRESETS.items()}


def preset(name: str, *args: object, **kwargs: object) -> Initializer:
    """The initializer that reproduces a framework's default for a layer.

    Parameters
    ----------
    name : str
        A dotted name such as ``"pytorch.linear"`` or ``"pytorch.linear.bias"``; see
        :data:`PRESETS` (case-insensitive).
    *args, **kwargs
        Passed to the preset's factory (``fan_in`` for PyTorch's biases).

    Examples
    --------
    >>> import weightinit as wi
    >>> from weightinit.presets import preset, PRESET_LAYOUTS
    >>> preset("pytorch.linear") == wi.variance_scaling(1 / 3, "fan_in", "uniform")
    True
    >>> PRESET_LAYOUTS["pytorch.conv2d"]
    'out_in'
    >>> preset("flax.dense") == wi.variance_scaling(1.0, "fan_in", "truncated_normal")
    True
    """
    if not isinstance(name, str):
        raise TypeError(f"a preset name must be a string; got {name!r}.")
    key = normalise_name(name)
    if key not in PRESETS:
        close = difflib.get_close_matches(key, PRESETS, n=3, cutoff=0.0)
        raise ValueError(
            f"{name!r} is not a framework preset; the closest are "
            f"{', '.join(map(repr, close))}. All of them are in "
            "weightinit.presets.PRESETS; named initializers such as 'he_normal' come from "
            "weightinit.get()."
        )
    return PRESETS[key][0](*args, **kwargs)


def _core(init: Initializer) -> str:
    """The call of a preset's initializer that shows its numbers (not ``presets.preset``):
    a named preset, or the whole ``variance_scaling`` call, defaults included."""
    if isinstance(init, families.VarianceScaling) and init.named_call() is None:
        return f"variance_scaling({init.scale!r}, {init.mode!r}, {init.distribution!r})"
    return repr(dataclasses.replace(init))


def describe(names: Sequence[str] | None = None) -> str:
    """A table of presets: name, layout, what it reproduces and the initializer.

    Examples
    --------
    >>> "pytorch.linear" in describe()
    True
    """
    if isinstance(names, str):
        raise TypeError(f"names must be a sequence of preset names; got the string {names!r}.")
    rows = []
    for name in names or PRESETS:
        if name not in PRESETS:
            raise choice_error("preset name", name, tuple(PRESETS))
        factory, layout, what = PRESETS[name]
        needs = _needs(factory)
        shown = f"needs {', '.join(needs)}" if needs else _core(factory())
        rows.append(f"{name:32} {layout:20} {what:58} {shown}")
    return "\n".join(rows)


def __getattr__(name: str) -> object:
    """``LAYOUTS``, the former name of :data:`PRESET_LAYOUTS`, with a ``DeprecationWarning``."""
    if name == "LAYOUTS":
        warnings.warn(
            "weightinit.presets.LAYOUTS is now PRESET_LAYOUTS (weightinit's LAYOUTS are the "
            "layout names).",
            DeprecationWarning,
            stacklevel=2,
        )
        return PRESET_LAYOUTS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
