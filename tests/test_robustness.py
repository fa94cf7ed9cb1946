"""A robustness sweep of the public API: arbitrary arguments give a result or a clear error.

Every public factory (everything in ``weightinit.__all__`` that builds an initializer, every
name ``get`` knows, presets included, and the presets' own helpers) is called with arbitrary
parameter values; each initializer it returns is called with arbitrary shapes, dtypes, seeds,
layouts, groups, threads and regions, and asked for its ``variance()`` and to ``fill()``
arrays. ``fans``, ``get``, ``gain``, ``recommend`` and ``explain`` get the same treatment.
A deterministic grid then puts every extreme number into every parameter of every factory.

Each call must either return what it promises (a finite array of the right shape and dtype,
a finite non-negative variance, ...) or raise ``ValueError`` or ``TypeError`` with a
non-empty message. Any other exception, any warning and any NaN fails. Examples are
derandomised and no database is kept, so CI sees the same inputs on every run.

Bugs the sweep once found are kept as minimal regression examples at the end of the file.
"""

from __future__ import annotations

import inspect
import math
import operator
import re
import typing
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import weightinit as wi
from weightinit import presets
from weightinit._fans import LAYOUTS
from weightinit.initializers import Initializer
from weightinit.seeds import Key

# --------------------------------------------------------------------------- the surface


def _builds_initializer(obj: object) -> bool:
    """A public function whose annotated return type is an Initializer (sub)class."""
    if isinstance(obj, type) or not callable(obj):
        return False
    try:
        returned = typing.get_type_hints(obj).get("return")
    except (NameError, TypeError):
        return False
    return isinstance(returned, type) and issubclass(returned, Initializer)


#: Every public factory; ``get`` and ``recommend`` are swept with arguments of their own.
PUBLIC_FACTORIES = sorted(
    name
    for name in wi.__all__
    if _builds_initializer(getattr(wi, name)) and name not in ("get", "recommend")
)

#: label -> (callable, the parameter names it documents).
FACTORIES: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    name: (getattr(wi, name), tuple(inspect.signature(getattr(wi, name)).parameters))
    for name in PUBLIC_FACTORIES
}
FACTORIES["presets.preset"] = (presets.preset, ("name",))
FACTORIES["presets.fan_in_bias"] = (presets.fan_in_bias, ("fan_in",))
FACTORIES["presets.Recurrent"] = (presets.Recurrent, ("gates",))
FACTORIES["recommend"] = (wi.recommend, ("activation", "distribution", "negative_slope", "alpha"))

GET_NAMES = wi.names(aliases=True)
PRESET_NAMES = tuple(presets.PRESETS)
FAN_IN_PRESETS = tuple(n for n in PRESET_NAMES if presets.PRESETS[n][2].endswith("fan_in)"))
ACTIVATION_NAMES = tuple(n for name, aliases in wi.activations().items() for n in (name, *aliases))

OK_ERRORS = (ValueError, TypeError)

#: Hypothesis settings of every sweep: reproducible (derandomised, no example database), no
#: deadline, and no health check that a slow CI machine could trip.
SWEEP: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}

# --------------------------------------------------------------------------- values

NAN, INF = float("nan"), float("inf")
#: Numbers at the edges: overflow and underflow of squares, of float16/32/64, of int->float.
EXTREMES = [
    0,
    0.0,
    -0.0,
    -1.0,
    NAN,
    INF,
    -INF,
    5e-324,
    1e-300,
    1e-200,
    1e-154,
    1e-46,
    1e-38,
    1e-8,
    65504.0,
    65520.0,
    3.4e38,
    3.5e38,
    1e154,
    1.4e154,
    1e200,
    1e300,
    1e307,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    2**31,
    2**53 + 1,
    2**63,
    -(2**63),
    2**1024,
    10**400,
    -(10**400),
    np.float64(1e300),
    np.float32(3e38),
    np.float16(65504),
    np.int64(2**62),
    np.uint64(2**64 - 1),
]
WORDS = [
    "fan_in",
    "fan_out",
    "fan_avg",
    "fan_geo_avg",
    "normal",
    "uniform",
    "truncated_normal",
    "relu",
    "tanh",
    "leaky_relu",
    "pytorch",
    "in_out",
    "pytorch.linear",
    "",
    " ",
    "nan",
    "1.0",
    "Fan_In",
    "garbage",
]


@st.composite
def weighted(draw: st.DrawFn, *choices: tuple[int, st.SearchStrategy[Any]]) -> Any:
    """Draw from one of ``choices`` with probability proportional to its weight.

    (``st.one_of(a, a, b)`` would not weight: equal branches are merged.)
    """
    pick = draw(st.integers(0, sum(w for w, _ in choices) - 1))
    for weight, strategy in choices:
        if pick < weight:
            return draw(strategy)
        pick -= weight
    raise AssertionError("unreachable")  # pragma: no cover


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> Any:
    """``valid`` seven times in eight, so that most examples get past argument checking."""
    return weighted((7, valid), (1, other))


def numbers_() -> st.SearchStrategy[Any]:
    """Python and NumPy numbers, from tiny to huge, NaN and infinities included."""
    return st.one_of(
        st.sampled_from(EXTREMES),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=-10.0, max_value=10.0),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.integers(min_value=-3, max_value=6),
        st.floats(width=32).map(np.float32),
        st.floats(width=16).map(np.float16),
        st.floats().map(np.float64),
        st.integers(min_value=-5, max_value=10).map(np.int64),
        st.integers(min_value=0, max_value=10).map(np.uint8),
    )


def anything() -> st.SearchStrategy[Any]:
    return st.one_of(
        numbers_(),
        st.sampled_from(WORDS),
        st.text(max_size=6),
        st.none(),
        st.booleans(),
        st.sampled_from([np.bool_(True), np.bool_(False)]),
        st.complex_numbers(max_magnitude=10.0),
        st.lists(st.integers(-2, 4), max_size=3),
        st.tuples(st.integers(-2, 4), st.integers(-2, 4)),
        st.builds(dict),
        st.just(b"bytes"),
    )


def values() -> st.SearchStrategy[Any]:
    """Anything a user might pass as a parameter: plausible values most often, extremes
    often, and anything at all now and then."""
    plausible = st.one_of(
        st.floats(min_value=0.01, max_value=10.0),
        st.integers(min_value=1, max_value=4),
        st.sampled_from(WORDS[:12]),
    )
    return weighted((5, plausible), (2, st.sampled_from(EXTREMES)), (1, anything()))


# --------------------------------------------------------------------------- call arguments

BUDGET = 5000  # largest number of elements an example may ask to generate


@st.composite
def small_shapes(draw: st.DrawFn, min_rank: int = 0, max_rank: int = 5) -> tuple[int, ...]:
    """Shapes of rank ``min_rank`` to ``max_rank`` with at most ``BUDGET`` elements."""
    rank = draw(st.integers(min_rank, max_rank))
    dims, budget = [], BUDGET
    for _ in range(rank):
        dim = draw(st.integers(0, min(64, budget)))
        dims.append(dim)
        budget //= max(dim, 1)
    return tuple(dims)


def _bad_dims(dims: tuple[int, ...], draw: st.DrawFn) -> tuple[Any, ...]:
    """``dims`` with one entry made negative, huge (with a zero elsewhere) or not an int."""
    kind = draw(st.sampled_from(["negative", "huge_empty", "too_many", "not_int"]))
    items: list[Any] = list(dims) or [1]
    at = draw(st.integers(0, len(items) - 1))
    if kind == "negative":
        items[at] = draw(st.integers(-(2**70), -1))
    elif kind == "huge_empty":
        # A zero axis next to a huge one: no element to generate.
        items[at] = draw(st.sampled_from([2**31, 2**40, 2**61, 2**62, 2**63 - 1, 2**63, 2**70]))
        items.append(0)
    elif kind == "too_many":
        items[at] = draw(st.sampled_from([2**62, 2**63, 2**64, 10**30]))
        items.append(draw(st.integers(1, 3)))
    else:
        items[at] = draw(
            st.sampled_from([1.0, 2.5, "3", None, True, np.float64(2.0), [2], NAN, 1 + 0j])
        )
    return tuple(items)


@st.composite
def any_shapes(draw: st.DrawFn) -> Any:
    """A shape as users write them: tuples, lists, ints, NumPy ints and arrays, or garbage."""
    dims = draw(small_shapes())
    kind = draw(
        st.sampled_from(["tuple"] * 6 + ["list", "int", "numpy_ints", "ndarray", "bad", "junk"])
    )
    if kind == "tuple":
        return dims
    if kind == "list":
        return list(dims)
    if kind == "int":
        return draw(st.one_of(st.integers(-3, BUDGET), st.integers(-(2**70), -1)))
    if kind == "numpy_ints":
        return tuple(np.int64(d) for d in dims)
    if kind == "ndarray":
        return np.array(dims, dtype=np.int64)
    if kind == "bad":
        return _bad_dims(dims, draw)
    return draw(st.sampled_from([None, "3,3", 2.0, {"a": 1}, (2.0, 3), b"\x02", np.float64(3.0)]))


VALID_DTYPES = [
    np.float16,
    np.float32,
    np.float64,
    "float32",
    "float64",
    ">f8",
    "<f4",
    np.dtype(">f2"),
    float,
    None,
]
INVALID_DTYPES = [
    np.int32,
    "int64",
    np.complex64,
    object,
    "S5",
    "U3",
    bool,
    "garbage",
    3,
    np.dtype([("a", "f4")]),
]


def dtypes() -> st.SearchStrategy[Any]:
    return mostly(st.sampled_from(VALID_DTYPES), st.sampled_from(INVALID_DTYPES))


def seeds() -> st.SearchStrategy[Any]:
    valid = st.one_of(
        st.integers(min_value=0, max_value=2**64),
        st.integers(min_value=2**64, max_value=2**200),
        st.none(),
        st.integers(0, 2**32).map(np.random.SeedSequence),
        st.integers(0, 2**32).map(lambda k: np.random.Generator(np.random.PCG64(k))),
        st.integers(0, 1000).map(Key.from_seed),
        st.just(Key((0, 1, 2**64 - 1, 3))),
        st.integers(0, 100).map(np.int64),
    )
    invalid = st.one_of(
        st.integers(min_value=-(2**70), max_value=-1),
        st.sampled_from(["0", "seed", 1.0, NAN, True, [1, 2], (1, 2, 3, 4), b"0"]),
    )
    return mostly(valid, invalid)


def layouts() -> st.SearchStrategy[Any]:
    valid = st.one_of(
        st.sampled_from(LAYOUTS),
        st.sampled_from(
            ["pytorch", "torch", "keras", "jax", "flax", "tf", "oihw", "hwio", "onnx", "depthwise"]
        ),
        st.sampled_from(["PyTorch", " in-out ", "Out In", "OUT_IN", "torch_transposed"]),
    )
    invalid = st.one_of(
        st.sampled_from(["", "pytroch", "nchw", "in", None, 0, 1.0, b"in_out", ("in_out",)]),
        st.text(max_size=8),
    )
    return mostly(valid, invalid)


def groups() -> st.SearchStrategy[Any]:
    valid = st.one_of(st.integers(1, 4), st.sampled_from([np.int64(2), np.uint8(2), 2**70]))
    invalid = st.one_of(st.integers(-3, 0), st.sampled_from([1.0, 2.0, 0.5, NAN, True, None, "2"]))
    return mostly(valid, invalid)


def threads() -> st.SearchStrategy[Any]:
    return mostly(
        st.sampled_from([None, 1, 2, 3, np.int64(2)]),
        st.sampled_from([0, -1, 1.0, 2.5, True, "2"]),
    )


def regions() -> st.SearchStrategy[Any]:
    index = st.one_of(
        st.integers(-6, 6),
        st.builds(
            slice,
            st.none() | st.integers(-8, 8),
            st.none() | st.integers(-8, 8),
            st.none() | st.integers(-3, 3),
        ),
        st.just(Ellipsis),
        st.sampled_from([np.int64(1), None, 1.5, "a", [0, 1], True, np.array([0])]),
    )
    return weighted((2, st.none()), (1, index), (1, st.lists(index, max_size=6).map(tuple)))


def _expected_shape(shape: Any) -> tuple[int, ...]:
    """The shape ``shape`` stands for (only asked after a call accepted it)."""
    if isinstance(shape, np.ndarray):
        return tuple(int(d) for d in shape.tolist()) if shape.ndim else (int(shape),)
    if hasattr(shape, "__index__"):
        return (operator.index(shape),)
    return tuple(operator.index(d) for d in shape)


def _selected_shape(shape: tuple[int, ...], region: Any) -> tuple[int, ...]:
    """The shape of ``full[region]``, by NumPy on a zero-stride view where NumPy can."""
    if region is None:
        return shape
    if all(d < 2**31 for d in shape):
        view = np.broadcast_to(np.empty((), dtype=np.uint8), shape)
        return view[region].shape
    # Axes too long for NumPy (in empty shapes): basic indexing, one axis at a time.
    items = region if isinstance(region, tuple) else (region,)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items = items[:at] + (slice(None),) * (len(shape) - len(items) + 1) + items[at + 1 :]
    items = items + (slice(None),) * (len(shape) - len(items))
    return tuple(
        len(range(*item.indices(dim)))
        for item, dim in zip(items, shape, strict=True)
        if isinstance(item, slice)
    )


# --------------------------------------------------------------------------- outcomes


def outcome(call: Callable[[], Any]) -> tuple[bool, Any]:
    """``(True, result)``, or ``(False, error)`` for a ValueError/TypeError with a message.

    Warnings are errors here (as in the pytest configuration), so a warning, like any other
    exception type, propagates and fails the test.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return True, call()
        except OK_ERRORS as error:
            assert str(error).strip(), f"{type(error).__name__} without a message"
            return False, error


def check_array(result: Any, shape: tuple[int, ...], dtype: Any) -> None:
    assert isinstance(result, np.ndarray), type(result)
    assert result.shape == shape, (result.shape, shape)
    expected = np.dtype(np.float32) if dtype is None else np.dtype(dtype)
    assert result.dtype == expected, (result.dtype, expected)
    assert np.all(np.isfinite(result)), "non-finite values"


def check_variance(value: Any) -> None:
    assert isinstance(value, float), type(value)
    assert math.isfinite(value) and value >= 0.0, value


def exercise(
    init: Initializer, shape: Any, dtype: Any, options: dict[str, Any], target: Any
) -> dict[str, bool]:
    """Call ``init``, its ``variance()`` and ``fill()``, checking each outcome."""
    done = {"call": False, "variance": False, "fill": False}
    done["call"], result = outcome(lambda: init(shape, dtype, **options))
    if done["call"]:
        expected = _selected_shape(_expected_shape(shape), options.get("region"))
        check_array(result, expected, dtype)

    var_options = {k: options[k] for k in ("layout", "groups") if k in options}
    done["variance"], variance = outcome(lambda: init.variance(shape, **var_options))
    if done["variance"]:
        check_variance(variance)

    fill_options = {k: v for k, v in options.items() if k != "region"}
    before = target.shape if isinstance(target, np.ndarray) else None
    done["fill"], out = outcome(lambda: init.fill(target, **fill_options))
    if done["fill"]:
        assert out is target
        assert out.shape == before
        assert np.all(np.isfinite(out))
    return done


# --------------------------------------------------------------------------- factories


@st.composite
def factory_calls(draw: st.DrawFn) -> tuple[str, list[Any], Callable[[], Any]]:
    """What is built (a factory label or registered name), its arguments, and a thunk."""
    how = draw(weighted((5, st.just("factory")), (1, st.just("name")), (1, st.just("config"))))
    if how == "name":
        name = draw(st.sampled_from(GET_NAMES))
        spelling = draw(st.sampled_from([name, name.upper(), name.title(), f" {name} "]))
        return name, [], lambda: wi.get(spelling)
    if how == "config":
        name = draw(st.sampled_from(GET_NAMES))
        factory = wi.registry._FACTORIES.get(name) or presets.PRESETS.get(name, (None,))[0]
        known = tuple(inspect.signature(factory).parameters) if factory else ()
        keys = draw(st.lists(st.sampled_from((*known, "bogus")), unique=True, max_size=2))
        config = {"name": name, **{k: draw(values()) for k in keys}}
        return name, list(config.values()), lambda: wi.get(config)
    label = draw(st.sampled_from(sorted(FACTORIES)))
    factory, params = FACTORIES[label]
    args: list[Any] = []
    target = label
    if label == "presets.preset":
        target = draw(st.one_of(st.sampled_from(PRESET_NAMES), st.sampled_from(GET_NAMES)))
        args.append(target)
        params = ("fan_in",) if target in FAN_IN_PRESETS else ()
    elif label == "recommend":
        args.append(draw(st.one_of(st.sampled_from(ACTIVATION_NAMES), values())))
        params = params[1:]
    if draw(st.booleans()):
        # Positional arguments past the first (one too many, now and then).
        count = draw(st.integers(0, len(params) + (draw(st.integers(0, 7)) == 7)))
        args += [draw(values()) for _ in range(count)]
    keys = draw(st.lists(st.sampled_from(params), unique=True, max_size=3)) if params else []
    if draw(st.integers(0, 9)) == 9:
        keys.append("bogus")
    kwargs = {k: draw(values()) for k in keys}
    return target, [*args, *kwargs.values()], lambda: factory(*args, **kwargs)


@st.composite
def fill_targets(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["array"] * 5 + ["readonly", "strided", "transposed", "junk"]))
    if kind == "junk":
        return draw(st.sampled_from([None, [1.0, 2.0], (3, 3), 1.0, "array"]))
    shape = draw(small_shapes(max_rank=4))
    dtype = draw(
        mostly(
            st.sampled_from([np.float16, np.float32, np.float64, ">f8"]),
            st.sampled_from([np.int32, np.complex64, object, bool]),
        )
    )
    array = np.zeros(shape, dtype=dtype)
    if kind == "readonly":
        array.flags.writeable = False
    elif kind == "strided" and array.ndim:
        array = np.zeros((*shape[:-1], 2 * shape[-1]), dtype=dtype)[..., ::2]
    elif kind == "transposed":
        array = array.T
    return array


CALL_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "seed": seeds(),
        "layout": layouts(),
        "groups": groups(),
        "threads": threads(),
        "region": regions(),
    },
)


@settings(max_examples=2000, **SWEEP)
@given(st.data())
def test_every_factory_and_initializer(data: st.DataObject) -> None:
    target, _, build = data.draw(factory_calls(), label="factory")
    built, init = outcome(build)
    event("factory: built" if built else "factory: error")
    if not built:
        return
    assert isinstance(init, Initializer), (target, init)
    hash(init)
    assert wi.get(init.get_config()) == init

    done = exercise(
        init,
        data.draw(any_shapes(), label="shape"),
        data.draw(dtypes(), label="dtype"),
        data.draw(CALL_OPTIONS, label="options"),
        data.draw(fill_targets(), label="fill target"),
    )
    for stage, ok in done.items():
        event(f"{stage}: {'result' if ok else 'error or excluded'}")


# --------------------------------------------------------------------------- extreme grid

GRID_SHAPES = [(4, 6), (3, 2, 3, 4), (8,)]
GRID_DTYPES = [np.float16, np.float32, np.float64]


def _slots(label: str) -> list[tuple[str, Callable[[Any], Any]]]:
    """Every parameter of a factory, as (name, function of the value to put there)."""
    factory, params = FACTORIES[label]
    if label == "presets.preset":
        return [(name, lambda v, n=name: presets.preset(n, v)) for name in FAN_IN_PRESETS]
    if label == "recommend":
        return [
            ("negative_slope", lambda v: wi.recommend("leaky_relu", negative_slope=v)),
            ("alpha", lambda v: wi.recommend("elu", alpha=v)),
            ("distribution", lambda v: wi.recommend("relu", distribution=v)),
        ]
    return [(p, lambda v, p=p: factory(**{p: v})) for p in params]


GRID = [(label, slot) for label in sorted(FACTORIES) for slot, _ in _slots(label)]


@pytest.mark.parametrize(("label", "slot"), GRID, ids=[f"{lab}-{s}" for lab, s in GRID])
def test_extreme_values_in_every_parameter(label: str, slot: str) -> None:
    make = dict(_slots(label))[slot]
    for value in EXTREMES:
        built, init = outcome(lambda v=value: make(v))
        if not built:
            continue
        assert isinstance(init, Initializer)
        for shape in GRID_SHAPES:
            for dtype in GRID_DTYPES:
                exercise(init, shape, dtype, {"seed": 0}, np.zeros(shape, dtype))


# --------------------------------------------------------------------------- fans, get


def axes() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.integers(-7, 7),
        st.lists(st.integers(-7, 7), max_size=3),
        st.lists(st.integers(-7, 7), max_size=3).map(tuple),
        st.sampled_from([(), 1.0, "0", True, [0, 0], np.int64(1), np.array([0, 1]), 2**70]),
    )


@st.composite
def fan_shapes(draw: st.DrawFn) -> Any:
    # fans() allocates nothing, so shapes may be as large as they like.
    if draw(st.booleans()):
        return draw(any_shapes())
    return tuple(draw(st.lists(st.integers(0, 2**70), max_size=6)))


@settings(max_examples=600, **SWEEP)
@given(
    shape=fan_shapes(),
    options=st.fixed_dictionaries(
        {},
        optional={
            "layout": layouts(),
            "groups": groups(),
            "in_axis": axes(),
            "out_axis": axes(),
            "batch_axis": axes(),
        },
    ),
)
def test_fans_sweep(shape: Any, options: dict[str, Any]) -> None:
    ok, result = outcome(lambda: wi.fans(shape, **options))
    if ok:
        assert isinstance(result, wi.Fans)
        for value in result:
            assert type(value) is int and value >= 0, result


@st.composite
def identifiers(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["name", "name", "config", "config", "other"]))
    if kind == "name":
        return draw(st.one_of(st.sampled_from(GET_NAMES), st.sampled_from(WORDS), st.text()))
    if kind == "config":
        config = draw(
            st.dictionaries(
                st.sampled_from(["scale", "mode", "gain", "value", "fan_in", "gates", "bogus"]),
                values(),
                max_size=3,
            )
        )
        if draw(st.integers(0, 5)):
            config["name"] = draw(st.one_of(st.sampled_from(GET_NAMES), values()))
        return config
    return draw(st.one_of(values(), st.just(wi.he_normal()), st.just(wi.zeros)))


@settings(max_examples=600, **SWEEP)
@given(identifier=identifiers())
def test_get_sweep(identifier: Any) -> None:
    ok, result = outcome(lambda: wi.get(identifier))
    if ok:
        assert isinstance(result, Initializer)
        assert wi.get(result.get_config()) == result


# --------------------------------------------------------------------------- activations


def _vanishing(x: Any) -> Any:
    return 0.0 * x


def _exploding(x: Any) -> Any:
    return np.exp(x * x)


def _raising(x: Any) -> Any:
    raise ZeroDivisionError("no")


def _scalar(x: Any) -> Any:
    return 1.0


def _complex(x: Any) -> Any:
    return x + 1j


def _nan(x: Any) -> Any:
    return x * NAN


def _huge(x: Any) -> Any:
    return x * 1e300


def _tiny(x: Any) -> Any:
    return x * 1e-300


CALLABLES = [
    np.tanh,
    np.abs,
    np.sin,
    _vanishing,
    _exploding,
    _raising,
    _scalar,
    _complex,
    _nan,
    _huge,
    _tiny,
]


def activation_values() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(ACTIVATION_NAMES),
        st.sampled_from(ACTIVATION_NAMES).map(str.upper),
        st.sampled_from(["LeakyReLU", "HardTanh", "gelu-tanh", " relu ", "relu6 ", "swish"]),
        st.sampled_from(CALLABLES),
        values(),
    )


def activation_params() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(
        st.sampled_from(["negative_slope", "alpha", "bogus"]), values(), max_size=2
    )


@settings(max_examples=500, **SWEEP)
@given(
    activation=activation_values(),
    convention=mostly(st.sampled_from(["second_moment", "pytorch"]), values()),
    distribution=st.one_of(
        st.none(), st.sampled_from(["normal", "uniform", "truncated_normal"]), values()
    ),
    params=activation_params(),
)
def test_gain_recommend_explain_sweep(
    activation: Any, convention: Any, distribution: Any, params: dict[str, Any]
) -> None:
    ok, value = outcome(lambda: wi.gain(activation, convention=convention, **params))
    if ok:
        assert isinstance(value, float) and math.isfinite(value) and value > 0.0, value
    ok, init = outcome(lambda: wi.recommend(activation, distribution=distribution, **params))
    if ok:
        assert isinstance(init, Initializer)
        check_variance(init.variance((30, 20)))
    ok, text = outcome(lambda: wi.explain(activation, **params))
    if ok:
        assert isinstance(text, str) and text


@pytest.mark.parametrize(
    ("activation", "parameter"), [("leaky_relu", "negative_slope"), ("elu", "alpha")]
)
def test_extreme_activation_parameters(activation: str, parameter: str) -> None:
    for value in EXTREMES:
        params = {parameter: value}
        for convention in ("second_moment", "pytorch"):
            ok, gain = outcome(
                lambda c=convention, p=params: wi.gain(activation, convention=c, **p)
            )
            if ok:
                assert isinstance(gain, float) and math.isfinite(gain) and gain >= 0.0
                if convention == "pytorch" and activation == "leaky_relu":
                    # PyTorch's table, evaluated on the float the slope stands for.
                    expected = math.sqrt(2.0) / math.hypot(1.0, float(value))
                    assert gain == pytest.approx(expected, rel=1e-12)
        ok, init = outcome(lambda p=params: wi.recommend(activation, **p))
        if ok:
            check_variance(init.variance((30, 20)))
        ok, text = outcome(lambda p=params: wi.explain(activation, **p))
        assert not ok or isinstance(text, str)


# --------------------------------------------------------------------------- coverage


def test_the_sweep_covers_every_public_factory() -> None:
    # Factories are found by their return annotation; this pins the ones known today, so a
    # change that hid one from the sweep would show here.
    known = {
        "constant",
        "delta_orthogonal",
        "dirac",
        "glorot_normal",
        "glorot_uniform",
        "he_normal",
        "he_uniform",
        "identity",
        "kaiming_normal",
        "kaiming_uniform",
        "lecun_normal",
        "lecun_uniform",
        "ones",
        "orthogonal",
        "scaled_normal",
        "sparse",
        "truncated_normal",
        "uniform",
        "variance_scaling",
        "xavier_normal",
        "xavier_uniform",
        "zeros",
    }
    assert known <= set(PUBLIC_FACTORIES)
    for name in PUBLIC_FACTORIES:
        factory = getattr(wi, name)
        required = [
            p
            for p in inspect.signature(factory).parameters.values()
            if p.default is inspect.Parameter.empty
        ]
        assert isinstance(factory(*[1.0] * len(required)), Initializer), name


# --------------------------------------------------------------------------- known bugs


def raises(error: type[Exception], message: str, call: Callable[[], object]) -> Callable[[], None]:
    """A check that ``call()`` raises exactly ``error`` (not a subclass) with ``message``, word
    for word, in its message, and warns of nothing on the way."""

    def check() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(error, match=re.escape(message)) as info:
                call()
        assert type(info.value) is error, type(info.value)

    return check


def _pytorch_gain(negative_slope: object) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = wi.gain("leaky_relu", convention="pytorch", negative_slope=negative_slope)
    assert type(value) is float, type(value)
    return value


def _pytorch_gain_of_a_huge_float() -> None:
    # sqrt(2 / (1 + slope**2)) where slope**2 overflows a float64: sqrt(2) / slope.
    value = _pytorch_gain(1e160)
    assert value == pytest.approx(math.sqrt(2.0) / 1e160, rel=1e-15, abs=0.0)


def _pytorch_gain_of_a_huge_float32() -> None:
    # slope**2 overflows a float32; the gain is that of the same slope as a float64.
    slope = float(np.float32(3e38))
    value = _pytorch_gain(np.float32(3e38))
    assert value == pytest.approx(math.sqrt(2.0) / slope, rel=1e-15, abs=0.0)


def _pytorch_gain_of_a_numpy_int() -> None:
    # slope**2 wraps around in int64 (to 0, a gain of sqrt(2)) unless taken as a real number.
    value = _pytorch_gain(np.int64(2**62))
    assert value == pytest.approx(math.sqrt(2.0 / (1.0 + 2.0**124)), rel=1e-15, abs=0.0)


def _truncated_normal_with_a_bound_past_float32() -> None:
    # A bound of 3.5e38 standard deviations is not a float32; it truncates nothing, as 10 does.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = wi.truncated_normal(0.05, bound=3.5e38)((4,), np.float32, seed=0)
        within_ten = wi.truncated_normal(0.05, bound=10.0)((4,), np.float32, seed=0)
    assert type(values) is np.ndarray, type(values)
    assert (values.shape, values.dtype) == ((4,), np.dtype(np.float32))
    expected = [
        -0.02089434303343296,
        0.044526707381010056,
        -0.014506776817142963,
        -0.06649689376354218,
    ]
    np.testing.assert_array_equal(values, np.array(expected, dtype=np.float32))
    np.testing.assert_array_equal(values, within_ten)


#: Minimal examples of bugs the sweep once found, kept as regression tests: each states the
#: exact error (type and message) or the exact result it expects.
FIXED_BUGS = [
    pytest.param(
        raises(
            ValueError,
            f"shape ({2**63}, 0) has an axis of {2**63}, too large to index.",
            lambda: wi.zeros()((2**63, 0)),
        ),
        id="bug1",
    ),
    pytest.param(
        raises(
            ValueError,
            "values of magnitude up to 1e+300 cannot be represented in float32 (largest "
            "finite value 3.4028234663852886e+38)",
            lambda: wi.orthogonal(1e300)((3, 3), np.float32, seed=0),
        ),
        id="bug2-orthogonal",
    ),
    pytest.param(
        raises(
            ValueError,
            "values of magnitude up to inf cannot be represented in float64 (largest finite "
            "value 1.7976931348623157e+308)",
            lambda: wi.sparse(0.5, 1e308)((4, 4), np.float64, seed=0),
        ),
        id="bug2-sparse",
    ),
    pytest.param(
        raises(
            ValueError,
            "the variance of orthogonal(gain=1e+300) overflows a float64.",
            lambda: wi.orthogonal(1e300).variance((3, 3)),
        ),
        id="bug3-orthogonal",
    ),
    pytest.param(
        raises(
            ValueError,
            "the variance of sparse(0.5, 1e+300) overflows a float64.",
            lambda: wi.sparse(0.5, 1e300).variance((4, 4)),
        ),
        id="bug3-sparse",
    ),
    pytest.param(
        raises(
            ValueError,
            f"fan_in must be >= 1 and below 2**62; got {10**400}.",
            lambda: presets.fan_in_bias(10**400),
        ),
        id="bug4",
    ),
    pytest.param(_pytorch_gain_of_a_huge_float, id="bug5-float"),
    pytest.param(_pytorch_gain_of_a_huge_float32, id="bug5-float32"),
    pytest.param(_pytorch_gain_of_a_numpy_int, id="bug5-int64-wraps"),
    pytest.param(_truncated_normal_with_a_bound_past_float32, id="bug6"),
]


@pytest.mark.parametrize("check", FIXED_BUGS)
def test_fixed_bugs_stay_fixed(check: Callable[[], None]) -> None:
    """Each bug the sweep once found, by its minimal example."""
    check()
