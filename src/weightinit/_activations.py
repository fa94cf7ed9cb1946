"""Activations: one record per activation, the table of built-in ones, and their gains.

An :class:`Activation` is all the library knows of one; the table holds one per built-in.

The gain of an activation ``f`` is ``1 / sqrt(E[f(z)**2])`` for ``z ~ N(0, 1)``: with weights
of variance ``gain**2 / fan_in``, a unit pre-activation variance is a fixed point of a deep,
wide, bias-free stack. The expectation is computed by adaptive Gauss-Kronrod quadrature,
which refines around kinks by itself, so any vectorised callable has a gain.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit._errors import choice_error
from weightinit._errors import normalise_name
from weightinit._errors import real
from weightinit._quadrature import call
from weightinit._quadrature import expect
from weightinit.initializers import Initializer

__all__ = [
    "FAMILIES",
    "TEXT_FIELDS",
    "Activation",
    "activations",
    "gain",
    "lookup",
    "register_activation",
    "resolve",
    "second_moment",
]

Array = npt.NDArray[np.float64]
Function = Callable[..., Any]
Saturation = Callable[[npt.NDArray[Any], npt.NDArray[Any]], npt.NDArray[Any]]

#: What :func:`weightinit.recommend` may answer for an activation (see register_activation).
FAMILIES: tuple[str, ...] = ("he", "glorot", "lecun", "gain")

#: What a reason or caveat may use, as in ``{gain:.3f}``; pytorch_excess is pytorch_gain / gain - 1.
TEXT_FIELDS: tuple[str, ...] = ("name", "gain", "pytorch_gain", "pytorch_excess")


@dataclasses.dataclass(frozen=True)
class Activation:
    """Everything the library knows of one activation: its fields are the arguments of
    :func:`register_activation` (``function`` is ``fn``) and ``parameters``, the names of the
    function's keyword parameters.

    Examples
    --------
    >>> from weightinit._activations import lookup
    >>> tanh = lookup("TanH")
    >>> tanh.name, tanh.family, tanh.pytorch_gain()
    ('tanh', 'glorot', 1.6666666666666667)
    """

    name: str
    function: Function
    derivative: Function | None = None
    aliases: tuple[str, ...] = ()
    recommend: Callable[..., Initializer] | None = dataclasses.field(default=None, compare=False)
    parameters: tuple[str, ...] = ()
    family: str = "gain"
    pytorch_gain: Callable[..., float] | None = None
    saturation: Saturation | None = None
    reason: str | None = None
    caveats: tuple[str, ...] = ()

    def slope(self, x: npt.NDArray[Any], **params: Any) -> npt.NDArray[Any] | None:
        """The derivative at ``x``, in ``x``'s dtype (``None`` if none was given)."""
        if self.derivative is None:
            return None
        return np.asarray(self.derivative(x, **params), dtype=x.dtype)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.frompyfunc(math.erf, 1, 1)


def _erf_array(x: Array) -> Array:
    return np.asarray(_erf(x), dtype=np.float64)


def _sigmoid(x: Array) -> Array:
    # exp of -|x| never overflows, and small values keep their relative precision.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x: Array) -> Array:
    return np.logaddexp(0.0, x)


def _gelu_tanh_inner(x: Array) -> Array:
    return math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)


def _pytorch_leaky_gain(slope: float) -> float:
    """``sqrt(2 / (1 + slope**2))`` as PyTorch writes it, without overflow for huge slopes."""
    square = slope * slope
    if math.isfinite(square):
        return math.sqrt(2.0 / (1.0 + square))
    return math.sqrt(2.0) / math.hypot(1.0, slope)


# The table, one record per built-in: name, function, derivative, aliases, then facts by keyword.
# PyTorch's gains are calculate_gain's (PyTorch 2.13); a family's reason is in _recommend.py.
# fmt: off
_UNSTABLE = ("for this activation the unit-variance fixed point is unstable without "
             "normalisation or residual connections: small deviations grow with depth.",)
_BUILTINS: tuple[Activation, ...] = (
    Activation("linear", lambda x: x, lambda x: np.ones_like(x),
               ("identity", "none", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d"),
               family="glorot", pytorch_gain=lambda: 1.0),
    Activation("relu", lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(np.float64),
               family="he", pytorch_gain=lambda: math.sqrt(2.0)),
    Activation("leaky_relu",
               lambda x, negative_slope=0.01: np.where(x >= 0, x, negative_slope * x),
               lambda x, negative_slope=0.01: np.where(x >= 0, 1.0, negative_slope),
               ("leakyrelu", "lrelu"), parameters=("negative_slope",), family="he",
               pytorch_gain=lambda negative_slope=0.01: _pytorch_leaky_gain(negative_slope)),
    Activation("relu6", lambda x: np.clip(x, 0.0, 6.0),
               lambda x: ((x > 0) & (x < 6)).astype(np.float64),
               saturation=lambda h, a: h >= 6.0),
    Activation("elu",
               lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))),
               lambda x, alpha=1.0: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0))),
               parameters=("alpha",), saturation=lambda h, a: h < math.log(0.01)),
    Activation("selu",
               lambda x: _SELU_SCALE * np.where(x > 0, x,
                                                _SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
               lambda x: _SELU_SCALE * np.where(x > 0, 1.0,
                                                _SELU_ALPHA * np.exp(np.minimum(x, 0.0))),
               family="lecun", pytorch_gain=lambda: 3.0 / 4.0,
               saturation=lambda h, a: h < math.log(0.01),
               reason="SELU's constants make N(0, 1) a stable fixed point when weights have "
                      "variance 1 / fan_in (Klambauer et al. (2017), 'Self-Normalizing Neural "
                      "Networks')."),
    Activation("gelu", lambda x: 0.5 * x * (1.0 + _erf_array(x / math.sqrt(2.0))),
               lambda x: 0.5 * (1.0 + _erf_array(x / math.sqrt(2.0)))
               + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi),
               ("gelu_erf",), caveats=_UNSTABLE),
    Activation("gelu_tanh", lambda x: 0.5 * x * (1.0 + np.tanh(_gelu_tanh_inner(x))),
               lambda x: 0.5 * (1.0 + np.tanh(_gelu_tanh_inner(x)))
               + 0.5 * x * (1.0 - np.tanh(_gelu_tanh_inner(x)) ** 2)
               * math.sqrt(2.0 / math.pi) * (1.0 + 3 * 0.044715 * x * x),
               # transformers calls it gelu_new, gelu_pytorch_tanh and gelu_fast.
               ("gelu_approximate", "approximate_gelu", "gelu_new", "gelu_pytorch_tanh",
                "gelu_fast"), caveats=_UNSTABLE),
    Activation("silu", lambda x: x * _sigmoid(x),
               lambda x: _sigmoid(x) * (1.0 + x * (1.0 - _sigmoid(x))),
               ("swish",), caveats=_UNSTABLE),
    Activation("mish", lambda x: x * np.tanh(_softplus(x)),
               lambda x: np.tanh(_softplus(x))
               + x * (1.0 - np.tanh(_softplus(x)) ** 2) * _sigmoid(x),
               caveats=_UNSTABLE),
    Activation("softplus", _softplus, _sigmoid),
    Activation("sigmoid", _sigmoid, lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)), ("logistic",),
               family="glorot", pytorch_gain=lambda: 1.0,
               saturation=lambda h, a: (a < 0.01) | (a > 0.99),
               caveats=("sigmoid is not zero-centred (its mean is 1/2), so no gain keeps the "
                        "signal alive through depth; prefer tanh or a rectifier in deep stacks.",)),
    Activation("tanh", np.tanh, lambda x: 1.0 - np.tanh(x) ** 2,
               family="glorot", pytorch_gain=lambda: 5.0 / 3.0,
               saturation=lambda h, a: np.abs(a) > 0.99,
               caveats=("PyTorch's tanh gain 5/3 sits {pytorch_excess:.1%} above this "
                        "fixed-point gain, which pushes tanh towards saturation in deep stacks.",)),
    Activation("hard_tanh", lambda x: np.clip(x, -1.0, 1.0),
               lambda x: (np.abs(x) < 1).astype(np.float64),
               ("hardtanh",), saturation=lambda h, a: np.abs(h) >= 1.0),
    Activation("softsign", lambda x: x / (1.0 + np.abs(x)), lambda x: 1.0 / (1.0 + np.abs(x)) ** 2,
               saturation=lambda h, a: np.abs(a) > 0.99),
)
# fmt: on

_TABLE: dict[str, Activation] = {entry.name: entry for entry in _BUILTINS}


def _keyword_defaults(fn: Function) -> dict[str, Any]:
    """A plain function's keyword parameters after the input, with defaults (none for ufuncs)."""
    if not inspect.isfunction(fn):
        return {}
    names = list(inspect.signature(fn).parameters.values())[1:]
    return {p.name: p.default for p in names if p.default is not inspect.Parameter.empty}


_LOOKUP: dict[str, str] = {}


def _rebuild_lookup() -> None:
    _LOOKUP.clear()
    for name, entry in _TABLE.items():
        _LOOKUP[normalise_name(name)] = name
        for alias in entry.aliases:
            _LOOKUP[normalise_name(alias)] = name


_rebuild_lookup()


def lookup(activation: object) -> Activation:
    """The table entry of an activation name or alias (``None`` is linear)."""
    return _TABLE[_canonical(activation)]


#: Output maps that are not hidden activations (looked up without underscores).
_OUTPUT_MAPS = ("softmax", "logsoftmax", "softmin", "sparsemax")


def _canonical(activation: object) -> str:
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        key = normalise_name(activation)
        if key in _LOOKUP:
            return _LOOKUP[key]
        # "LeakyReLU" -> "leakyrelu", "HardTanh" -> "hardtanh"
        squashed = key.replace("_", "")
        for alias, name in _LOOKUP.items():
            if alias.replace("_", "") == squashed:
                return name
    if isinstance(activation, str) and normalise_name(activation).replace("_", "") in _OUTPUT_MAPS:
        raise ValueError(
            f"{activation!r} normalises a network's outputs; it is not an activation between "
            "layers, and the layer that feeds it is linear: use recommend(None) (linear, "
            "glorot_uniform()), which keeps the logits' variance near that of its inputs."
        )
    raise choice_error("activation", activation, tuple(_TABLE), tuple(_LOOKUP))


def activations() -> dict[str, tuple[str, ...]]:
    """The known activations, each with its aliases.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.activations()["silu"]
    ('swish',)
    """
    return {name: entry.aliases for name, entry in _TABLE.items()}


# --------------------------------------------------------------------------- registration


def register_activation(
    name: str | Activation,
    fn: Function | None = None,
    *,
    derivative: Function | None = None,
    aliases: tuple[str, ...] = (),
    recommend: Callable[..., Initializer] | None = None,
    family: str = "gain",
    pytorch_gain: float | Callable[..., float] | None = None,
    saturation: Saturation | None = None,
    reason: str | None = None,
    caveats: tuple[str, ...] = (),
) -> None:
    """Add an activation to the table, with every fact a built-in one has.

    Parameters
    ----------
    name, fn : str, callable
        The name and ``fn(x, **params)``, NumPy-vectorised, whose keyword parameters are the
        activation's. Or ``name`` is a whole :class:`Activation` record (``fn`` and the
        keywords then stay unset): the same facts, as a built-in's record holds them.
    derivative, aliases, recommend : callable, tuple of str, callable, optional
        The derivative (called like ``fn``), other names, and a function of the parameters
        that returns the initializer to recommend instead of a family's.
    family : {"he", "glorot", "lecun", "gain"}, default "gain"
        What :func:`weightinit.recommend` answers: ``he_normal(negative_slope=a)`` (``a`` the
        ``negative_slope`` parameter, if any), ``glorot_uniform()``, ``lecun_normal()``, or
        ``lecun_normal(gain=name)`` (variance ``gain**2 / fan_in`` with its own gain).
    pytorch_gain : float or callable, optional
        ``gain(name, convention="pytorch")``: a number, or a function of the parameters.
    saturation : callable, optional
        ``saturation(h, a)`` with ``a = fn(h)``: booleans of ``h``'s shape, true where ``a``
        is saturated (:func:`weightinit.diagnose` reports their share).
    reason, caveats : str, tuple of str, optional
        What :func:`weightinit.explain` says of the recommendation (default: the family's),
        and paragraphs it adds after ``Caveat:``. They may use ``TEXT_FIELDS`` (``{gain:.3f}``)
        and write other braces twice.

    Raises
    ------
    TypeError
        For an argument of the wrong type; the table is left unchanged.
    ValueError
        For a taken name, an unknown family or text field, or a function that fails on a
        few probe points; the table is left unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> import weightinit as wi
    >>> wi.register_activation("abs_demo", np.abs)
    >>> round(wi.gain("abs_demo"), 6), wi.recommend("abs_demo")
    (1.0, lecun_normal(gain='abs_demo'))
    >>> wi.register_activation("hard_sigmoid_demo", lambda x: np.clip(x / 6 + 0.5, 0, 1),
    ...     family="glorot", pytorch_gain=1.0, saturation=lambda h, a: (a <= 0) | (a >= 1),
    ...     caveats=("its mean is 1/2; its gain is {gain:.3f}.",))
    >>> wi.recommend("hard_sigmoid_demo"), wi.gain("hard_sigmoid_demo", convention="pytorch")
    (glorot_uniform(), 1.0)
    >>> print(wi.explain("hard_sigmoid_demo").splitlines()[-1])
    Caveat: its mean is 1/2; its gain is 1.898.
    >>> wi.register_activation(wi.Activation("cube_demo", np.cbrt, family="lecun"))
    >>> wi.recommend("cube_demo")
    lecun_normal()
    """
    if isinstance(name, Activation):
        given = (fn, derivative, recommend, pytorch_gain, saturation, reason)
        if any(v is not None for v in given) or aliases or caveats or family != "gain":
            raise TypeError(
                "register_activation takes an Activation record alone, or a name and a "
                "function with keywords; not a record and other arguments."
            )
        entry = _checked(name)
    else:
        facts = (family, pytorch_gain, saturation, reason, caveats)
        record = Activation(name, fn, derivative, aliases, recommend, (), *facts)  # type: ignore[arg-type]
        entry = _checked(record)
    _TABLE[entry.name] = entry
    _rebuild_lookup()
    try:
        second_moment(entry.name)
    except BaseException:
        del _TABLE[entry.name]
        _rebuild_lookup()
        raise


def _checked(entry: Activation) -> Activation:
    """``entry`` with its names normalised and its parameters and PyTorch gain filled in, or
    the ``TypeError``/``ValueError`` of its first bad fact."""
    name, fn = entry.name, entry.function
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a non-empty string; got {name!r}.")
    if not callable(fn):
        raise TypeError(f"fn must be callable; got {fn!r}.")
    for label in ("derivative", "recommend", "saturation"):
        if getattr(entry, label) is not None and not callable(getattr(entry, label)):
            raise TypeError(f"{label} must be callable or None; got {getattr(entry, label)!r}.")
    if entry.reason is not None and not (isinstance(entry.reason, str) and entry.reason.strip()):
        raise TypeError(f"reason must be a non-empty string or None; got {entry.reason!r}.")
    aliases, caveats = _strings("aliases", entry.aliases), _strings("caveats", entry.caveats)
    entry = dataclasses.replace(entry, caveats=caveats)
    keys = [normalise_name(name), *(normalise_name(a) for a in aliases)]
    if len(set(keys)) != len(keys):
        raise ValueError(f"activation name and aliases repeat a name: {keys}.")
    taken = [k for k in keys if k in _LOOKUP]
    if taken:
        raise ValueError(f"activation name(s) {taken} are already registered.")
    _check_callable(fn, repr(keys[0]))
    family = normalise_name(entry.family) if isinstance(entry.family, str) else entry.family
    if family not in FAMILIES:
        raise choice_error("family", entry.family, FAMILIES)
    if entry.recommend is not None and family != "gain":
        raise ValueError(f"give recommend or family={family!r}, not both.")
    defaults = _keyword_defaults(fn)
    pytorch = _pytorch_gain(entry.pytorch_gain, defaults)
    if entry.saturation is not None:
        _check_saturation(entry.saturation, fn)
    fields = TEXT_FIELDS if pytorch is not None else TEXT_FIELDS[:2]
    for text in caveats if entry.reason is None else (entry.reason, *caveats):
        try:
            text.format(**{f: "x" if f == "name" else 1.0 for f in fields})
        except (KeyError, IndexError, ValueError) as error:
            problem = f"unknown field {error}" if isinstance(error, KeyError) else str(error)
            raise ValueError(
                f"reason or caveat {text!r}: {problem}. Its fields may be {', '.join(fields)} "
                "(pytorch_* need a pytorch_gain); write other braces twice."
            ) from None
    entry = dataclasses.replace(entry, name=keys[0], aliases=tuple(keys[1:]), family=family)
    return dataclasses.replace(entry, parameters=tuple(defaults), pytorch_gain=pytorch)


def _strings(label: str, values: object) -> tuple[str, ...]:
    if isinstance(values, (tuple, list)) and all(isinstance(v, str) and v.strip() for v in values):
        return tuple(values)
    raise TypeError(f"{label} must be a tuple of non-empty strings; got {values!r}.")


def _pytorch_gain(value: object, defaults: Mapping[str, Any]) -> Callable[..., float] | None:
    """PyTorch's gain as a function of the parameters, tried at their defaults."""
    if value is None or not callable(value):
        number = None if value is None else real("pytorch_gain", value, positive=True)
        return None if number is None else lambda **params: number
    call = f"pytorch_gain({', '.join(f'{k}={v!r}' for k, v in defaults.items())})"
    try:
        real("it", value(**defaults), positive=True)
    except Exception as error:  # any failure of a user's function is reported as bad input
        raise ValueError(f"{call} gives no gain: {type(error).__name__}: {error}") from None
    return value


def _check_saturation(test: Saturation, fn: Function) -> None:
    h = np.linspace(-3.0, 3.0, 7)
    try:
        out = np.asarray(test(h, np.asarray(fn(h), dtype=np.float64)))
    except Exception as error:  # any failure of a user's function is reported as bad input
        raise ValueError(f"saturation(h, a) raised {type(error).__name__}: {error}") from None
    if out.dtype != np.bool_ or out.shape != h.shape:
        raise ValueError(f"saturation(h, a) must give booleans of h's shape; got {out!r}.")


def _check_callable(fn: Function, name: str) -> None:
    probe = np.linspace(-3.0, 3.0, 7)
    try:
        out = np.asarray(fn(probe), dtype=np.float64)
    except Exception as error:  # any failure here means the callable is unusable
        raise ValueError(
            f"activation {name} is not NumPy-vectorised: calling it on an array of shape "
            f"(7,) raised {type(error).__name__}: {error}"
        ) from None
    if out.shape != probe.shape:
        raise ValueError(
            f"activation {name} is not NumPy-vectorised: an input of shape (7,) gave "
            f"shape {out.shape}."
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"activation {name} returns non-finite values on normal inputs.")


def resolve(activation: object, params: Mapping[str, Any]) -> tuple[str | None, Function]:
    """Return ``(canonical name or None for a callable, function of x alone)``."""
    if callable(activation) and not isinstance(activation, str):
        if params:
            raise TypeError(
                f"parameters {sorted(params)} apply to named activations only; bind them in "
                "the callable instead."
            )
        label = getattr(activation, "__name__", repr(activation))
        _check_callable(activation, repr(label))
        return None, activation
    name = _canonical(activation)
    fn = _TABLE[name].function
    if params:
        accepted = _TABLE[name].parameters
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            valid = ", ".join(accepted) or "none"
            raise TypeError(
                f"activation {name!r} takes parameters ({valid}); got {', '.join(unknown)}."
            )
        params = {key: real(key, value) for key, value in params.items()}
    return name, (lambda x: fn(x, **params))


def second_moment(activation: object = "linear", **params: Any) -> float:
    """``E[f(z)**2]`` for ``z ~ N(0, 1)``."""
    moment, size = _normalised_second_moment(activation, params)
    return moment * size * size


def _normalised_second_moment(activation: object, params: Mapping[str, Any]) -> tuple[float, float]:
    """``(E[(f(z) / size)**2], size)`` with ``size = max |f|`` on [-4, 4] (or 1)."""
    name, fn = resolve(activation, params)
    label = repr(name or getattr(activation, "__name__", activation))

    try:
        # Integrate (f / size)^2 so that the result does not depend on f's overall scale.
        size = float(np.max(np.abs(call(fn, np.linspace(-4.0, 4.0, 161)))))
        if not math.isfinite(size):
            raise ValueError("it returns non-finite values on normal inputs")
        size = size or 1.0

        def squared(x: Array) -> Array:
            values = call(fn, x) / size
            with np.errstate(over="ignore"):
                return values * values

        moment = expect(squared)
    except ValueError as error:
        raise ValueError(f"activation {label}: {error}.") from None
    if not moment > 0.0:
        raise ValueError(f"activation {label} has E[f(z)^2] = 0, so it has no gain.")
    return moment, size


def gain(
    activation: object = "linear", *, convention: str = "second_moment", **params: Any
) -> float:
    """The gain of an activation: ``1 / sqrt(E[f(z)**2])`` for ``z ~ N(0, 1)``.

    Parameters
    ----------
    activation : str, callable or None
        A name or alias (case-insensitive; ``None`` means linear) or a NumPy-vectorised
        callable.
    convention : {"second_moment", "pytorch"}, default "second_moment"
        ``"pytorch"`` returns the value of PyTorch's ``calculate_gain`` table and raises
        ``ValueError`` for activations that table does not define.
    **params
        The activation's parameters, e.g. ``negative_slope`` for leaky ReLU, ``alpha`` for
        ELU.

    Notes
    -----
    A layer ``h = W a`` with ``Var(W) = gain**2 / fan_in`` and ``a = f(z)`` has
    ``Var(h) = gain**2 E[f(z)**2] Var(z)``-scaled fluctuations; the gain above makes unit
    variance a fixed point of that map (Poole et al. 2016; Schoenholz et al. 2017).

    Examples
    --------
    >>> import weightinit as wi
    >>> round(wi.gain("relu"), 6), round(wi.gain("tanh"), 6)
    (1.414214, 1.592537)
    >>> round(wi.gain("tanh", convention="pytorch"), 6)
    1.666667
    """
    if convention == "pytorch":
        name = _canonical(activation) if not callable(activation) else None
        if name is not None:
            resolve(name, params)  # validates the parameters as the default convention does
            params = {key: real(key, value) for key, value in params.items()}
        torch = None if name is None else _TABLE[name].pytorch_gain
        if torch is None:
            order = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu")  # PyTorch's
            known = [e.name for e in _BUILTINS if e.pytorch_gain is not None]  # not the user's
            known.sort(key=lambda n: order.index(n) if n in order else len(order))
            raise ValueError(
                f"PyTorch's calculate_gain does not define {activation!r}; it knows "
                f"{', '.join(known)}."
            )
        return float(torch(**params))
    if convention != "second_moment":
        raise choice_error("convention", convention, ("second_moment", "pytorch"))
    moment, size = _normalised_second_moment(activation, params)
    return 1.0 / (math.sqrt(moment) * size)
