"""Activations: gains against closed forms and brute force, recommendations, explanations,
registration, errors, a deep-stack check of the fixed point, and the table in docs/.

Run ``python tests/test_activations.py`` to print the table rows that docs/activations.md
must contain (``test_docs_table_is_generated`` checks that it does).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import weightinit as wi

# ``weightinit._activations`` is the function re-exported by the package, which hides the
# submodule of the same name; ``from ... import`` still reaches the module.
from weightinit._activations import _TABLE
from weightinit._activations import lookup

# Taken once, at import, before any test registers an activation of its own.
BUILTIN: dict[str, tuple[str, ...]] = dict(wi.activations())
ALIASES: list[tuple[str, str]] = [
    (alias, name) for name, aliases in BUILTIN.items() for alias in (name, *aliases)
]

EXPECTED_NAMES = {
    "linear",
    "relu",
    "leaky_relu",
    "relu6",
    "elu",
    "selu",
    "gelu",
    "gelu_tanh",
    "silu",
    "mish",
    "softplus",
    "sigmoid",
    "tanh",
    "hard_tanh",
    "softsign",
}

# From the issue, rounded to 6 decimals.
REFERENCE_GAINS = {
    "relu": 1.414214,
    "tanh": 1.592537,
    "sigmoid": 1.846229,
    "selu": 1.0,
    "elu": 1.245198,
    "gelu": 1.533530,
    "silu": 1.676532,
    "mish": 1.486848,
    "softplus": 1.041867,
    "hard_tanh": 1.392036,
}

# The constants of Klambauer et al. (2017), as PyTorch prints them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

GLOROT = {"linear", "tanh", "sigmoid"}
UNSTABLE = {"gelu", "gelu_tanh", "silu", "mish"}
PYTORCH_NAMES = {"linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"}
DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")


def close(value: float, expected: float, rel: float) -> bool:
    return abs(value - expected) <= rel * abs(expected)


# --------------------------------------------------------------------------- closed forms


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _upper_tail(t: float) -> float:
    """``P(z > t)`` for ``z ~ N(0, 1)``, without cancellation."""
    return 0.5 * math.erfc(t / math.sqrt(2.0))


def clip_second_moment(low: float, high: float) -> float:
    """``E[clip(z, low, high)**2]`` for ``low <= 0 <= high``.

    Uses ``E[z**2; 0 < z < c] = (1/2 - P(z > c)) - c phi(c)`` on each side.
    """

    def side(c: float) -> float:
        return (0.5 - _upper_tail(c)) - c * _phi(c) + c * c * _upper_tail(c)

    return side(high) + side(-low)


def elu_second_moment(alpha: float) -> float:
    """``E[elu(z)**2]``, with ``E[exp(t z); z < 0] = exp(t**2 / 2) P(z > t)``."""
    negative = math.exp(2.0) * _upper_tail(2.0) - 2.0 * math.exp(0.5) * _upper_tail(1.0) + 0.5
    return 0.5 + alpha * alpha * negative


CLOSED_FORM_GAINS = {
    "linear": 1.0,
    "relu": math.sqrt(2.0),
    "leaky_relu": math.sqrt(2.0 / (1.0 + 0.01**2)),
    "relu6": 1.0 / math.sqrt(clip_second_moment(0.0, 6.0)),
    "hard_tanh": 1.0 / math.sqrt(clip_second_moment(-1.0, 1.0)),
    "elu": 1.0 / math.sqrt(elu_second_moment(1.0)),
    "selu": 1.0 / (SELU_SCALE * math.sqrt(elu_second_moment(SELU_ALPHA))),
}


# --------------------------------------------------------------------------- definitions

_erfc = np.frompyfunc(math.erfc, 1, 1)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(x))


def _gelu(x):
    return 0.5 * x * _erfc(-x / math.sqrt(2.0)).astype(np.float64)


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0.0)) - 1.0))


# Written from the definitions, not from the library, and only used on [-12, 12].
REFERENCE_FUNCTIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.where(x > 0, x, 0.0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "relu6": lambda x: np.where(x <= 0, 0.0, np.where(x >= 6, 6.0, x)),
    "elu": _elu,
    "selu": lambda x: SELU_SCALE * _elu(x, SELU_ALPHA),
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "silu": lambda x: x * _sigmoid(x),
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "softplus": _softplus,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "hard_tanh": lambda x: np.where(np.abs(x) < 1, x, np.sign(x)),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
}

# Points where the function or its derivative jumps; finite differences stay away from them.
KINKS = {
    "relu": (0.0,),
    "leaky_relu": (0.0,),
    "relu6": (0.0, 6.0),
    "elu": (0.0,),
    "selu": (0.0,),
    "hard_tanh": (-1.0, 1.0),
    "softsign": (0.0,),
}


def test_builtin_names_and_aliases():
    assert set(BUILTIN) == EXPECTED_NAMES
    assert "swish" in BUILTIN["silu"]
    assert {"identity", "none"} <= set(BUILTIN["linear"])
    assert set(BUILTIN) <= set(wi.activations())


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_library_function_matches_its_definition(name):
    x = np.linspace(-12.0, 12.0, 2401)
    got = _TABLE[name].function(x)
    np.testing.assert_allclose(got, REFERENCE_FUNCTIONS[name](x), rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- gain values


@pytest.mark.parametrize("name", sorted(REFERENCE_GAINS))
def test_gain_matches_reference_value(name):
    expected = REFERENCE_GAINS[name]
    # The references are rounded to 6 decimals, hence the absolute half-unit.
    assert abs(wi.gain(name) - expected) <= 5e-7 + 1e-6 * expected


@pytest.mark.parametrize("name", sorted(CLOSED_FORM_GAINS))
def test_gain_matches_closed_form(name):
    assert close(wi.gain(name), CLOSED_FORM_GAINS[name], 1e-9)


def test_relu_gain_is_sqrt_two():
    assert wi.gain("relu") == pytest.approx(math.sqrt(2.0), rel=1e-14)


@settings(max_examples=40, deadline=None)
@given(st.floats(-3.0, 3.0))
def test_leaky_relu_gain_closed_form(slope):
    expected = math.sqrt(2.0 / (1.0 + slope * slope))
    assert close(wi.gain("leaky_relu", negative_slope=slope), expected, 1e-9)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 3.0))
def test_elu_gain_closed_form(alpha):
    expected = 1.0 / math.sqrt(elu_second_moment(alpha))
    assert close(wi.gain("elu", alpha=alpha), expected, 1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-4.0, -0.05),
    st.floats(0.05, 7.0),
    st.floats(1.0, 1e2),
)
def test_gain_of_clipped_identity_closed_form(low, high, scale):
    """Kinks anywhere, not only at the quadrature's fixed breakpoints."""
    expected = 1.0 / (scale * math.sqrt(clip_second_moment(low, high)))
    got = wi.gain(lambda x: scale * np.clip(x, low, high))
    assert close(got, expected, 1e-7)


def test_gain_is_relatively_accurate_for_small_outputs():
    expected = 1e4 / math.sqrt(clip_second_moment(-0.3, 0.3))
    got = wi.gain(lambda x: 1e-4 * np.clip(x, -0.3, 0.3))
    assert close(got, expected, 1e-6)


@pytest.fixture(scope="module")
def trapezoid_grid():
    x = np.linspace(-12.0, 12.0, 2_000_001)
    weights = np.full_like(x, x[1] - x[0])
    weights[[0, -1]] *= 0.5
    return x, weights * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_gain_matches_brute_force_trapezoid(name, trapezoid_grid):
    x, weights = trapezoid_grid
    moment = float(np.dot(REFERENCE_FUNCTIONS[name](x) ** 2, weights))
    # The trapezoid is good to about 1e-10 here (spectral for smooth integrands, O(h**2)
    # at kinks); 1e-8 is a hundred times tighter than the 1e-6 promise.
    assert close(wi.gain(name), 1.0 / math.sqrt(moment), 1e-8)


@pytest.mark.parametrize("alias, name", ALIASES)
def test_gain_by_alias_and_case(alias, name):
    expected = wi.gain(name)
    assert wi.gain(alias) == expected
    assert wi.gain(alias.upper()) == expected
    assert wi.gain(f"  {alias.title()} ") == expected


@pytest.mark.parametrize(
    "spelling, name",
    [
        ("ReLU", "relu"),
        ("LeakyReLU", "leaky_relu"),
        ("Leaky-ReLU", "leaky_relu"),
        ("leaky relu", "leaky_relu"),
        ("Swish", "silu"),
        ("HardTanh", "hard_tanh"),
        ("GELU", "gelu"),
        ("Identity", "linear"),
        (None, "linear"),
    ],
)
def test_common_spellings(spelling, name):
    assert wi.gain(spelling) == wi.gain(name)
    assert wi.recommend(spelling) == wi.recommend(name)


def test_gain_defaults_to_linear():
    assert wi.gain() == wi.gain("linear")


@pytest.mark.parametrize(
    "fn, name, params",
    [
        (np.tanh, "tanh", {}),
        (lambda x: np.maximum(x, 0), "relu", {}),
        (lambda x: np.where(x >= 0, x, 0.2 * x), "leaky_relu", {"negative_slope": 0.2}),
    ],
    ids=["tanh", "relu", "leaky_relu"],
)
def test_callable_gets_the_gain_of_its_name(fn, name, params):
    assert close(wi.gain(fn), wi.gain(name, **params), 1e-9)


@settings(max_examples=30, deadline=None)
@given(st.floats(1e-2, 1e2), st.sampled_from(["tanh", "sigmoid", "gelu_tanh", "softsign"]))
def test_gain_scales_inversely_with_the_output(scale, name):
    fn = _TABLE[name].function
    assert close(wi.gain(lambda x: scale * fn(x)), wi.gain(name) / scale, 1e-9)


# --------------------------------------------------------------------------- PyTorch


@pytest.mark.parametrize(
    "activation, params, expected",
    [
        ("linear", {}, 1.0),
        ("identity", {}, 1.0),
        ("conv1d", {}, 1.0),
        ("conv2d", {}, 1.0),
        ("conv3d", {}, 1.0),
        (None, {}, 1.0),
        ("sigmoid", {}, 1.0),
        ("tanh", {}, 5.0 / 3.0),
        ("relu", {}, math.sqrt(2.0)),
        ("leaky_relu", {}, math.sqrt(2.0 / (1.0 + 0.01**2))),
        ("leaky_relu", {"negative_slope": 0.2}, math.sqrt(2.0 / (1.0 + 0.2**2))),
        ("LeakyReLU", {"negative_slope": 0.0}, math.sqrt(2.0)),
        ("selu", {}, 0.75),
    ],
)
def test_pytorch_convention_table(activation, params, expected):
    assert wi.gain(activation, convention="pytorch", **params) == expected


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES - PYTORCH_NAMES))
def test_pytorch_convention_rejects_what_pytorch_lacks(name):
    with pytest.raises(ValueError, match=rf"PyTorch's calculate_gain does not define '{name}'"):
        wi.gain(name, convention="pytorch")


def test_pytorch_convention_rejects_callables():
    with pytest.raises(ValueError, match=r"does not define <ufunc 'tanh'>; it knows linear"):
        wi.gain(np.tanh, convention="pytorch")


def test_pytorch_convention_checks_parameters():
    with pytest.raises(ValueError, match="negative_slope"):
        wi.gain("leaky_relu", convention="pytorch", negative_slope=float("nan"))


# --------------------------------------------------------------------------- recommend


def expected_recommendation(name: str, distribution: str | None = None) -> wi.Initializer:
    """The issue's rules, written out independently of the library's family table."""
    if name == "relu":
        scale, mode, default = 2.0, "fan_in", "normal"
    elif name == "leaky_relu":
        scale, mode, default = 2.0 / (1.0 + 0.01**2), "fan_in", "normal"
    elif name in GLOROT:
        scale, mode, default = 1.0, "fan_avg", "uniform"
    elif name == "selu":
        scale, mode, default = 1.0, "fan_in", "normal"
    else:
        scale, mode, default = wi.gain(name) ** 2, "fan_in", "normal"
    return wi.variance_scaling(scale, mode, distribution or default)


@pytest.mark.parametrize("alias, name", ALIASES)
def test_recommend_for_every_name_and_alias(alias, name):
    assert wi.recommend(alias) == expected_recommendation(name)
    assert wi.recommend(alias.upper()) == expected_recommendation(name)


@pytest.mark.parametrize(
    "name, preset",
    [
        ("relu", wi.he_normal()),
        ("leaky_relu", wi.he_normal(negative_slope=0.01)),
        ("tanh", wi.glorot_uniform()),
        ("sigmoid", wi.glorot_uniform()),
        ("linear", wi.glorot_uniform()),
        ("selu", wi.lecun_normal()),
    ],
)
def test_recommend_presets(name, preset):
    assert wi.recommend(name) == preset


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_recommend_distribution_override(name, distribution):
    assert wi.recommend(name, distribution=distribution) == expected_recommendation(
        name, distribution
    )


def test_recommend_distribution_override_gives_the_sibling_preset():
    assert wi.recommend("relu", distribution="uniform") == wi.he_uniform()
    assert wi.recommend("tanh", distribution="normal") == wi.glorot_normal()
    assert wi.recommend("selu", distribution="uniform") == wi.lecun_uniform()


def test_recommend_with_parameters():
    assert wi.recommend("leaky_relu", negative_slope=0.2) == wi.he_normal(negative_slope=0.2)
    assert wi.recommend("LeakyReLU", negative_slope=0.2, distribution="uniform") == (
        wi.he_uniform(negative_slope=0.2)
    )
    g = wi.gain("elu", alpha=0.5)
    assert wi.recommend("elu", alpha=0.5) == wi.variance_scaling(g * g, "fan_in", "normal")


@pytest.mark.parametrize("fn", [np.tanh, lambda x: np.maximum(x, 0.0), np.sin])
def test_recommend_for_a_callable_uses_its_gain(fn):
    g = wi.gain(fn)
    assert wi.recommend(fn) == wi.variance_scaling(g * g, "fan_in", "normal")
    assert wi.recommend(fn, distribution="uniform") == wi.variance_scaling(
        g * g, "fan_in", "uniform"
    )


def test_recommend_defaults_to_relu():
    assert wi.recommend() == wi.he_normal()


# --------------------------------------------------------------------------- gain by name


@pytest.mark.parametrize(
    "factory, mode, distribution",
    [
        (wi.glorot_uniform, "fan_avg", "uniform"),
        (wi.glorot_normal, "fan_avg", "normal"),
        (wi.lecun_uniform, "fan_in", "uniform"),
        (wi.lecun_normal, "fan_in", "normal"),
    ],
)
@pytest.mark.parametrize("name", ["tanh", "relu", "selu", "GELU", "swish"])
def test_presets_accept_an_activation_name_as_gain(factory, mode, distribution, name):
    g = wi.gain(name)
    assert factory(gain=name) == wi.variance_scaling(g * g, mode, distribution)
    shape = (300, 100)
    assert factory(gain=name).variance(shape) == pytest.approx(
        factory().variance(shape) * g * g, rel=1e-12
    )
    assert factory(gain=g) == factory(gain=name)


def test_glorot_uniform_tanh_example():
    init = wi.glorot_uniform(gain="tanh")
    assert init.variance((300, 100)) == pytest.approx(
        wi.glorot_uniform().variance((300, 100)) * wi.gain("tanh") ** 2, rel=1e-12
    )


def test_preset_gain_name_error():
    with pytest.raises(ValueError, match=r"got 'rleu'\. Did you mean 'relu'\?"):
        wi.glorot_uniform(gain="rleu")


# --------------------------------------------------------------------------- derivatives


@pytest.mark.parametrize(
    "name, params",
    [(name, {}) for name in sorted(EXPECTED_NAMES)]
    + [("leaky_relu", {"negative_slope": 0.2}), ("elu", {"alpha": 0.5})],
)
def test_derivative_matches_central_differences(name, params):
    entry = _TABLE[name]
    assert entry.derivative is not None
    x = np.linspace(-7.5, 8.5, 641)
    for kink in KINKS.get(name, ()):
        x = x[np.abs(x - kink) > 1e-3]
    h = 1e-6
    numeric = (entry.function(x + h, **params) - entry.function(x - h, **params)) / (2 * h)
    np.testing.assert_allclose(entry.derivative(x, **params), numeric, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- fixed point


def variance_map_slope(name: str) -> float:
    """``d/dq gain**2 E[f(sqrt(q) z)**2]`` at ``q = 1``: above 1 the fixed point is unstable."""
    fn = _TABLE[name].function
    step = 1e-3

    def moment(q: float) -> float:
        return 1.0 / wi.gain(lambda x: fn(math.sqrt(q) * x)) ** 2

    return wi.gain(name) ** 2 * (moment(1 + step) - moment(1 - step)) / (2 * step)


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_unstable_caveat_matches_the_variance_map(name):
    slope = variance_map_slope(name)
    text = wi.explain(name)
    if name in UNSTABLE:
        assert slope > 1.05
        assert "unstable" in text
    else:
        assert slope < 1.0 + 1e-6
        assert "unstable" not in text


STACK_TOLERANCE = {"tanh": 0.10, "selu": 0.10, "elu": 0.10, "relu": 0.25, "leaky_relu": 0.25}
WIDTH, DEPTH, BATCH, SEEDS = 512, 20, 32, 16


def test_scaled_unit_draw_is_the_variance_scaling_draw():
    """The stack below scales one unit draw by each gain; that is the gained draw itself."""
    unit = wi.variance_scaling(1.0, "fan_in", "normal")((WIDTH, WIDTH), "float64", seed=7)
    for name in STACK_TOLERANCE:
        g = wi.gain(name)
        init = wi.variance_scaling(g * g, "fan_in", "normal")
        np.testing.assert_allclose(
            init((WIDTH, WIDTH), "float64", seed=7), g * unit, rtol=1e-14, atol=0
        )


@pytest.fixture(scope="module")
def stack_second_moments() -> dict[str, float]:
    """Mean of ``h**2`` at layer ``DEPTH`` of a bias-free stack, averaged over seeds.

    ``h_0`` is unit normal and ``h_l = f(h_{l-1}) @ W_l`` with ``W_l`` drawn from
    ``variance_scaling(gain**2, "fan_in", "normal")``. All activations share one unit draw
    per layer and seed, scaled by each gain, so the five stacks cost one matmul a layer.
    """
    names = list(STACK_TOLERANCE)
    gains = np.array([wi.gain(name) for name in names])
    unit = wi.variance_scaling(1.0, "fan_in", "normal")
    totals = np.zeros(len(names))
    for seed in range(SEEDS):
        x = wi.scaled_normal(1.0)((BATCH, WIDTH), "float64", seed=10_000 + seed)
        h = [x] * len(names)
        for layer in range(DEPTH):
            w = unit((WIDTH, WIDTH), "float64", seed=100 * seed + layer)
            a = np.concatenate(
                [g * _TABLE[n].function(z) for g, n, z in zip(gains, names, h, strict=True)]
            )
            h = np.split(a @ w, len(names))
        totals += [float(np.mean(z * z)) for z in h]
    return dict(zip(names, totals / SEEDS, strict=True))


@pytest.mark.parametrize("name", sorted(STACK_TOLERANCE))
def test_deep_stack_keeps_unit_second_moment(name, stack_second_moments):
    # Finite width makes the layer-20 moment fluctuate (Hanin & Rolnick 2018), most for
    # rectifiers, whose mean stays at 1 but whose spread grows like depth / width.
    assert abs(stack_second_moments[name] - 1.0) <= STACK_TOLERANCE[name]


# --------------------------------------------------------------------------- explain

CITATIONS = {
    "relu": "He et al. (2015)",
    "leaky_relu": "He et al. (2015)",
    "tanh": "Glorot & Bengio (2010)",
    "sigmoid": "Glorot & Bengio (2010)",
    "linear": "Glorot & Bengio (2010)",
    "selu": "Klambauer et al. (2017)",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_explain_names_the_recommendation_and_gain(name):
    text = wi.explain(name)
    # The first line is the recommendation, as the call that makes it.
    assert text.splitlines()[0] == f"{name}: {wi.recommend(name)!r}"
    assert f"{wi.gain(name):.6f}" in text
    if name in CITATIONS:
        assert CITATIONS[name] in text
    else:
        assert "fixed point" in text


def test_explain_caveats():
    assert "not zero-centred" in wi.explain("sigmoid")
    tanh = wi.explain("tanh")
    assert "5/3" in tanh
    assert "4.7%" in tanh
    for name in UNSTABLE:
        text = wi.explain(name)
        assert "unstable" in text
        assert "normalisation" in text
        assert "residual connections" in text
    for name in EXPECTED_NAMES - UNSTABLE - {"sigmoid", "tanh"}:
        assert "Caveat" not in wi.explain(name)


def test_explain_with_parameters_and_callables():
    assert repr(wi.he_normal(negative_slope=0.2)) in wi.explain("leaky_relu", negative_slope=0.2)

    def my_activation(x):
        return np.tanh(x)

    first = wi.explain(my_activation).splitlines()[0]
    assert first == f"my_activation: {wi.recommend(my_activation)!r}"


@pytest.mark.parametrize("name", sorted(UNSTABLE))
def test_explain_cites_mean_field_for_other_activations(name):
    assert re.search(r"Poole|Schoenholz", wi.explain(name))


WITH_DERIVATIVE = sorted(name for name, entry in _TABLE.items() if entry.derivative is not None)


def test_every_builtin_activation_has_a_derivative() -> None:
    assert set(WITH_DERIVATIVE) == EXPECTED_NAMES


@pytest.mark.parametrize("name", WITH_DERIVATIVE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_derivatives_keep_the_input_dtype(name: str, dtype: type) -> None:
    # Some derivatives compute in float64 (np.where with Python floats, erf through math);
    # slope() gives them back in the input's dtype, so float32 stays float32.
    x = np.linspace(-3, 3, 7, dtype=dtype)
    entry = lookup(name)
    assert entry is _TABLE[name]
    slope = entry.slope(x)
    assert slope.dtype == dtype
    assert slope.shape == x.shape
    exact = np.asarray(entry.derivative(x), dtype=np.float64)
    np.testing.assert_array_equal(slope, exact.astype(dtype))
    for alias in entry.aliases:
        assert lookup(alias) is entry


# --------------------------------------------------------------------------- registration


def test_register_activation():
    wi.register_activation("test_abs_act", np.abs, derivative=np.sign, aliases=("test_abs_alias",))
    assert wi.activations()["test_abs_act"] == ("test_abs_alias",)
    assert _TABLE["test_abs_act"].derivative is np.sign
    assert wi.gain("test_abs_act") == pytest.approx(1.0, rel=1e-12)
    assert wi.gain("TEST-ABS-ALIAS") == wi.gain("test_abs_act")
    g2 = wi.gain("test_abs_act") ** 2
    assert wi.recommend("test_abs_act") == wi.variance_scaling(g2, "fan_in", "normal")
    assert wi.glorot_uniform(gain="test_abs_alias") == wi.variance_scaling(g2, "fan_avg", "uniform")


def test_register_activation_with_its_own_recommendation():
    wi.register_activation(
        "test_custom_rec_act",
        lambda x, beta=1.0: np.maximum(x, 0.0) * beta,
        recommend=lambda beta=1.0: wi.he_uniform(),
    )
    assert wi.recommend("test_custom_rec_act") == wi.he_uniform()
    assert wi.recommend("test_custom_rec_act", beta=2.0) == wi.he_uniform()
    assert close(wi.gain("test_custom_rec_act", beta=2.0), math.sqrt(2.0) / 2.0, 1e-12)


def test_register_duplicate_names():
    wi.register_activation("test_dup_act", np.sin)
    with pytest.raises(ValueError, match=r"\['test_dup_act'\] are already registered"):
        wi.register_activation("test_dup_act", np.sin)
    with pytest.raises(ValueError, match=r"\['relu'\] are already registered"):
        wi.register_activation("ReLU", np.sin)
    with pytest.raises(ValueError, match=r"\['swish'\] are already registered"):
        wi.register_activation("test_dup_alias_act", np.sin, aliases=("Swish",))
    assert "test_dup_alias_act" not in wi.activations()


@pytest.mark.parametrize(
    "name, fn, error, pattern",
    [
        ("", np.sin, TypeError, r"name must be a non-empty string; got ''"),
        (3, np.sin, TypeError, r"name must be a non-empty string; got 3"),
        ("test_bad_fn_act", "sin", TypeError, r"fn must be callable; got 'sin'"),
        ("test_scalar_act", math.sin, ValueError, r"'test_scalar_act' is not NumPy-vectorised"),
    ],
)
def test_register_activation_errors(name, fn, error, pattern):
    with pytest.raises(error, match=pattern):
        wi.register_activation(name, fn)
    assert "test_scalar_act" not in wi.activations()


# --------------------------------------------------------------------------- errors


def to_float(x):
    return float(x)


def always_nan(x):
    return np.full_like(x, np.nan)


def nan_beyond_five(x):
    return np.where(np.abs(x) > 5, np.nan, x)


def always_zero(x):
    return np.zeros_like(x)


def summed(x):
    return np.sum(x)


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: wi.gain("rleu"), ValueError, r"got 'rleu'\. Did you mean 'relu'\?"),
        (lambda: wi.recommend("rleu"), ValueError, r"got 'rleu'\. Did you mean 'relu'\?"),
        (lambda: wi.explain("rleu"), ValueError, r"got 'rleu'\. Did you mean 'relu'\?"),
        (lambda: wi.gain("swsh"), ValueError, r"got 'swsh'\. Did you mean 'swish'\?"),
        (lambda: wi.gain(3), ValueError, r"activation must be one of .*; got 3\.$"),
        (
            lambda: wi.gain("relu", negative_slope=0.1),
            TypeError,
            r"activation 'relu' takes parameters \(none\); got negative_slope",
        ),
        (
            lambda: wi.recommend("elu", beta=1.0),
            TypeError,
            r"activation 'elu' takes parameters \(alpha\); got beta",
        ),
        (lambda: wi.gain("elu", alpha="x"), TypeError, r"alpha must be a real number; got 'x'"),
        (lambda: wi.gain("elu", alpha=math.inf), ValueError, r"alpha must be finite; got inf"),
        (
            lambda: wi.gain(np.tanh, alpha=1.0),
            TypeError,
            r"parameters \['alpha'\] apply to named activations only",
        ),
        (lambda: wi.gain(to_float), ValueError, r"activation 'to_float' is not NumPy-vectorised"),
        (
            lambda: wi.gain(lambda x: float(x)),
            ValueError,
            r"activation '<lambda>' is not NumPy-vectorised",
        ),
        (lambda: wi.gain(math.tanh), ValueError, r"activation 'tanh' is not NumPy-vectorised"),
        (lambda: wi.gain(summed), ValueError, r"'summed' is not NumPy-vectorised.*shape \(\)"),
        (lambda: wi.gain(always_nan), ValueError, r"always_nan'? returns non-finite values"),
        (lambda: wi.recommend(always_nan), ValueError, r"always_nan'? returns non-finite"),
        (lambda: wi.gain(nan_beyond_five), ValueError, r"'nan_beyond_five': it returns non-finite"),
        (lambda: wi.gain(always_zero), ValueError, r"'always_zero' has E\[f\(z\)\^2\] = 0"),
        (lambda: wi.recommend(always_zero), ValueError, r"'always_zero' has E\[f\(z\)\^2\] = 0"),
        (
            lambda: wi.gain("gelu", convention="pytorch"),
            ValueError,
            r"does not define 'gelu'; it knows linear, sigmoid, tanh, relu, leaky_relu, selu",
        ),
        (
            lambda: wi.gain("relu", convention="pytorch", negative_slope=0.1),
            TypeError,
            r"activation 'relu' takes parameters \(none\); got negative_slope",
        ),
        (
            lambda: wi.gain("relu", convention="keras"),
            ValueError,
            r"convention must be one of 'second_moment', 'pytorch'; got 'keras'",
        ),
        (
            lambda: wi.gain("relu", convention="pytorh"),
            ValueError,
            r"got 'pytorh'\. Did you mean 'pytorch'\?",
        ),
        (
            lambda: wi.recommend("relu", distribution="gaussian"),
            ValueError,
            r"distribution must be one of 'normal', 'uniform', 'truncated_normal'; "
            r"got 'gaussian'",
        ),
        (
            lambda: wi.recommend("tanh", distribution="normall"),
            ValueError,
            r"got 'normall'\. Did you mean 'normal'\?",
        ),
    ],
)
def test_errors_name_the_bad_value(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        wi.gain("rleu")
    message = str(info.value)
    for name in EXPECTED_NAMES:
        assert repr(name) in message


def test_tanh_takes_no_parameters():
    with pytest.raises(TypeError, match=r"activation 'tanh' takes parameters \(none\); got foo"):
        wi.gain("tanh", foo=1.0)
    with pytest.raises(TypeError, match=r"activation 'tanh' takes parameters \(none\); got dtype"):
        wi.recommend("tanh", dtype=1.0)


# --------------------------------------------------------------------------- docs table

DOCS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "activations.md"

TABLE_HEADER = (
    "| activation | aliases | recommended initializer | gain | PyTorch gain | why |",
    "|---|---|---|---|---|---|",
)

# (preset text, preset, reason), checked in order against recommend().
_PRESETS = (
    ("he_normal()", wi.he_normal(), "halves the second moment; He et al. 2015"),
    (
        "he_normal(negative_slope=0.01)",
        wi.he_normal(negative_slope=0.01),
        "keeps (1 + a²)/2 of it, a = 0.01; He et al. 2015",
    ),
    (
        "glorot_uniform()",
        wi.glorot_uniform(),
        "balances forward and backward variance; Glorot & Bengio 2010",
    ),
    (
        "lecun_normal()",
        wi.lecun_normal(),
        "self-normalising at variance 1 / fan_in; Klambauer et al. 2017",
    ),
)
_GENERIC_REASON = "gain² / fan_in makes unit variance the mean-field fixed point"

# (phrase in explain(), note added to the reason)
_CAVEATS = (
    ("not zero-centred", "; not zero-centred"),
    ("5/3", "; PyTorch's 5/3 is {tanh_excess} higher"),
    ("unstable", "; unstable without normalisation or residuals"),
)


def table_rows() -> list[str]:
    """The table of docs/activations.md, header included, computed from the library."""
    rows = list(TABLE_HEADER)
    for name, aliases in BUILTIN.items():
        init = wi.recommend(name)
        shown, reason = next(
            ((text, why) for text, preset, why in _PRESETS if init == preset),
            (
                f'variance_scaling({init.scale:.6f}, "{init.mode}", "{init.distribution}")',
                _GENERIC_REASON,
            ),
        )
        explanation = wi.explain(name)
        excess = re.search(r"sits (\S+) above", explanation)
        for phrase, note in _CAVEATS:
            if phrase in explanation:
                reason += note.format(tanh_excess=excess.group(1) if excess else "")
        try:
            torch = f"{wi.gain(name, convention='pytorch'):.6f}"
        except ValueError:
            torch = "—"
        listed = ", ".join(f"`{alias}`" for alias in aliases) or "—"
        rows.append(
            f"| `{name}` | {listed} | `{shown}` | {wi.gain(name):.6f} | {torch} | {reason} |"
        )
    return rows


def test_docs_table_is_generated():
    text = DOCS_PAGE.read_text(encoding="utf-8")
    lines = set(text.splitlines())
    missing = [row for row in table_rows() if row not in lines]
    assert not missing, "docs/activations.md is stale; regenerate these rows:\n" + "\n".join(
        missing
    )


def test_docs_table_covers_every_builtin():
    text = DOCS_PAGE.read_text(encoding="utf-8")
    for name in EXPECTED_NAMES:
        assert f"| `{name}` |" in text


if __name__ == "__main__":
    print("\n".join(table_rows()))
