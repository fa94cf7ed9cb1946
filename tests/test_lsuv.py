"""Tests of ``lsuv``: it reaches the target std layer by layer, in place, and refuses bad input.

The networks are plain NumPy stacks ``h_l = a_{l-1} @ W_l (+ b_l)``, ``a_l = f(h_l)`` with the
activation functions from the library's own table, and ``forward`` returns every ``h_l``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import weightinit as wi
from weightinit._activations import _TABLE
from weightinit._lsuv import LSUVLayer

Array = np.ndarray
Forward = Callable[[list[Array], Array], list[Array]]


def make_forward(activation: str, biases: list[Array] | None = None) -> Forward:
    f = _TABLE[activation].function

    def forward(weights: list[Array], x: Array) -> list[Array]:
        outputs, a = [], x
        for i, w in enumerate(weights):
            h = a @ w
            if biases is not None:
                h = h + biases[i]
            outputs.append(h)
            a = np.asarray(f(h), dtype=h.dtype)
        return outputs

    return forward


def network(
    depth: int = 8, width: int = 64, *, dtype: Any = np.float32, batch: int = 300, seed: int = 0
) -> tuple[list[Array], Array]:
    """Orthogonal weights (the paper's starting point) and a unit-normal batch."""
    children = np.random.SeedSequence(seed).spawn(depth + 1)
    x = wi.scaled_normal(1.0)((batch, width), dtype, seed=children[0])
    weights = [wi.orthogonal()((width, width), dtype, seed=children[1 + i]) for i in range(depth)]
    return weights, x


# --------------------------------------------------------------------------- convergence


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_every_layer_reaches_the_target(activation: str, dtype: Any) -> None:
    weights, x = network(depth=12, dtype=dtype)
    forward = make_forward(activation)
    before = [float(h.std()) for h in forward(weights, x)]
    # Without LSUV the signal changes scale with depth (ReLU halves the second moment,
    # tanh shrinks it), which is the point of rescaling.
    assert abs(before[-1] - 1.0) > 0.2

    report = wi.lsuv(weights, forward, x, target_std=1.0, tol=0.05)

    assert report.converged
    assert len(report.layers) == 12
    for h, layer in zip(forward(weights, x), report.layers, strict=True):
        assert abs(float(h.std()) - 1.0) <= 0.05
        assert layer.std == pytest.approx(float(np.std(h, dtype=np.float64)), rel=1e-6)
        assert layer.converged
        assert layer.iterations <= 2
    for w in weights:
        assert w.dtype == dtype


@pytest.mark.parametrize("target", [0.5, 2.0])
def test_other_targets_and_a_tight_tolerance(target: float) -> None:
    weights, x = network(depth=6, dtype=np.float64)
    forward = make_forward("tanh")
    report = wi.lsuv(weights, forward, x, target_std=target, tol=1e-6)
    assert report.converged
    for h in forward(weights, x):
        assert abs(float(h.std()) - target) <= 1e-6


def test_without_bias_one_rescaling_is_exact() -> None:
    # h = a @ W is linear in W: a layer that starts off target needs exactly one rescaling,
    # and the scale recorded is target / initial std.
    weights, x = network(depth=5, dtype=np.float64)
    report = wi.lsuv(weights, make_forward("relu"), x, tol=1e-9)
    for layer in report.layers[1:]:
        assert layer.iterations == 1
        assert layer.scale == pytest.approx(1.0 / layer.initial_std, rel=1e-12)
        assert layer.std == pytest.approx(1.0, abs=1e-9)


def test_a_bias_needs_repeated_rescaling() -> None:
    weights, x = network(depth=3, dtype=np.float64, width=32)
    rng = np.random.default_rng(1)
    biases = [rng.normal(0.0, 0.5, size=32) for _ in weights]
    for w in weights:
        w *= 3.0
    report = wi.lsuv(weights, make_forward("tanh", biases), x, tol=1e-4, max_iter=50)
    assert report.converged
    assert max(layer.iterations for layer in report.layers) >= 2


def test_weights_are_rescaled_in_place() -> None:
    weights, x = network(depth=5)
    originals = [w.copy() for w in weights]
    ids = [id(w) for w in weights]
    report = wi.lsuv(weights, make_forward("relu"), x)
    assert [id(w) for w in weights] == ids
    for w, original, layer in zip(weights, originals, report.layers, strict=True):
        # a pure rescaling of the orthogonal start, by the factor the report records
        np.testing.assert_allclose(w, original * np.float32(layer.scale), rtol=1e-5, atol=1e-7)


def test_a_tuple_of_weights_is_accepted() -> None:
    weights, x = network(depth=3)
    report = wi.lsuv(tuple(weights), lambda ws, x: make_forward("relu")(list(ws), x), x)
    assert report.converged


def test_max_iter_stops_an_unconverged_layer() -> None:
    # A one-weight "layer" with a bias, whose output std is |w| + 1: with target 1.5 each
    # rescaling only moves part of the way, so one step is not enough.
    weights = [np.array([4.0])]

    def forward(weights: list[Array], x: Array) -> list[Array]:
        spread = abs(float(weights[0][0])) + 1.0
        return [np.array([-spread, spread])]

    report = wi.lsuv(weights, forward, None, target_std=1.5, tol=0.01, max_iter=1)
    (layer,) = report.layers
    assert layer.iterations == 1
    assert not layer.converged
    assert not report.converged
    assert abs(layer.std - 1.5) > 0.01
    again = wi.lsuv(weights, forward, None, target_std=1.5, tol=0.01, max_iter=100)
    assert again.converged


# --------------------------------------------------------------------------- the report


def test_report_str_and_to_dict() -> None:
    weights, x = network(depth=3)
    report = wi.lsuv(weights, make_forward("relu"), x)
    assert isinstance(report, wi.LSUVReport)
    assert all(isinstance(layer, LSUVLayer) for layer in report.layers)
    text = str(report)
    lines = text.splitlines()
    assert lines[0].startswith("LSUV: target std 1 +- 0.05")
    assert len(lines) == 3 + 3
    assert lines[-1].split()[0] == "3" and lines[-1].endswith("yes")
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["converged"] is True
    assert data["target_std"] == 1.0 and data["tol"] == 0.05 and data["max_iter"] == 10
    assert [d["layer"] for d in data["layers"]] == [1, 2, 3]
    assert data["layers"][2]["std"] == report.layers[2].std
    with pytest.raises(AttributeError):
        report.tol = 0.1  # type: ignore[misc]


# --------------------------------------------------------------------------- errors


def _ok_forward(weights: list[Array], x: Array) -> list[Array]:
    return make_forward("relu")(weights, x)


def _fresh() -> tuple[list[Array], Array]:
    return network(depth=3, width=8, batch=20)


def _read_only() -> list[Array]:
    weights, _ = _fresh()
    weights[1].flags.writeable = False
    return weights


def _tied() -> list[Array]:
    weights, _ = _fresh()
    weights[2] = weights[0]
    return weights


def _with_nan() -> list[Array]:
    weights, _ = _fresh()
    weights[1][0, 0] = np.nan
    return weights


def _zero_layer() -> list[Array]:
    weights, _ = _fresh()
    weights[1][...] = 0.0
    return weights


def _ignores_weights() -> Forward:
    frozen = [w.copy() for w in _fresh()[0]]
    return lambda weights, x: _ok_forward(frozen, x)


X = _fresh()[1]


def _with_a_nan_input() -> Array:
    x = X.copy()
    x[3, 5] = np.nan  # one input row turns a whole row of layer 1's output into nan
    return x


BAD_INPUTS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("weights-array", lambda: wi.lsuv(_fresh()[0][0], _ok_forward, X), TypeError, "got ndarray"),
    ("weights-empty", lambda: wi.lsuv([], _ok_forward, X), ValueError, "at least one array"),
    (
        "weights-list",
        lambda: wi.lsuv([[1.0, 2.0]], _ok_forward, X),
        TypeError,
        "weights[0] is list",
    ),
    (
        "weights-int",
        lambda: wi.lsuv([np.ones((8, 8), dtype=np.int64)], _ok_forward, X),
        TypeError,
        "weights[0] has dtype int64",
    ),
    (
        "weights-size-0",
        lambda: wi.lsuv([np.ones((0, 8))], _ok_forward, X),
        ValueError,
        "weights[0] is empty",
    ),
    ("read-only", lambda: wi.lsuv(_read_only(), _ok_forward, X), ValueError, "weights[1] is read"),
    ("tied", lambda: wi.lsuv(_tied(), _ok_forward, X), ValueError, "weights[2] shares memory"),
    ("nan-weight", lambda: wi.lsuv(_with_nan(), _ok_forward, X), ValueError, "weights[1] holds"),
    ("forward", lambda: wi.lsuv(_fresh()[0], "relu", X), TypeError, "forward must be a callable"),
    (
        "returns-array",
        lambda: wi.lsuv(_fresh()[0], lambda w, x: np.stack(_ok_forward(w, x)), X),
        TypeError,
        "forward must return a list of arrays, one per layer; got ndarray",
    ),
    (
        "too-few",
        lambda: wi.lsuv(_fresh()[0], lambda w, x: _ok_forward(w, x)[:2], X),
        ValueError,
        "forward returned 2 outputs for 3 weights",
    ),
    (
        "too-many",
        lambda: wi.lsuv(_fresh()[0], lambda w, x: [*_ok_forward(w, x), x], X),
        ValueError,
        "forward returned 4 outputs for 3 weights",
    ),
    (
        "non-array",
        lambda: wi.lsuv(_fresh()[0], lambda w, x: [h.tolist() for h in _ok_forward(w, x)], X),
        TypeError,
        "output 0 is list",
    ),
    (
        "non-real",
        lambda: wi.lsuv(_fresh()[0], lambda w, x: [h.astype(object) for h in _ok_forward(w, x)], X),
        TypeError,
        "output 0 has dtype object",
    ),
    (
        "non-finite",
        lambda: wi.lsuv(_fresh()[0], _ok_forward, _with_a_nan_input()),
        ValueError,
        "forward's output 0 (layer 1) has non-finite values (8 of 160 are inf or nan",
    ),
    (
        "std-overflow",
        lambda: wi.lsuv(
            _fresh()[0], lambda w, x: [np.linspace(-1e200, 1e200, 10).reshape(2, 5)] * len(w), X
        ),
        ValueError,
        "forward's output 0 (layer 1) is finite but its standard deviation overflows float64",
    ),
    (
        "std-0",
        lambda: wi.lsuv(_zero_layer(), _ok_forward, X),
        ValueError,
        "layer 2's output has std 0 on x, so it does not depend on weights[1]",
    ),
    (
        "unchanged",
        lambda: wi.lsuv(_fresh()[0], _ignores_weights(), X),
        ValueError,
        "so it does not depend on those weights",
    ),
    (
        "overflow",
        lambda: wi.lsuv(
            [w.astype(np.float16) for w in _fresh()[0]], _ok_forward, X * np.float32(1e-6)
        ),
        ValueError,
        "rescaling weights[0] by",
    ),
    (
        "underflow",
        lambda: wi.lsuv(
            [w.astype(np.float16) for w in _fresh()[0]], _ok_forward, X * np.float32(1e9)
        ),
        ValueError,
        "would flush every weight to zero in float16",
    ),
    (
        "target-0",
        lambda: wi.lsuv(_fresh()[0], _ok_forward, X, target_std=0.0),
        ValueError,
        "target_std must be positive and finite; got 0.0",
    ),
    (
        "target-str",
        lambda: wi.lsuv(_fresh()[0], _ok_forward, X, target_std="1"),
        TypeError,
        "target_std must be a real number; got '1'",
    ),
    (
        "tol-nan",
        lambda: wi.lsuv(_fresh()[0], _ok_forward, X, tol=float("nan")),
        ValueError,
        "tol must be positive and finite; got nan",
    ),
    (
        "tol-too-big",
        lambda: wi.lsuv(_fresh()[0], _ok_forward, X, tol=1.0),
        ValueError,
        "tol must be smaller than target_std",
    ),
    (
        "max-iter-0",
        lambda: wi.lsuv(_fresh()[0], _ok_forward, X, max_iter=0),
        ValueError,
        "max_iter must be >= 1; got 0.",
    ),
    (
        "max-iter-float",
        lambda: wi.lsuv(_fresh()[0], _ok_forward, X, max_iter=2.5),
        TypeError,
        "max_iter must be an integer; got 2.5 of type float.",
    ),
    (
        "max-iter-bool",
        lambda: wi.lsuv(_fresh()[0], _ok_forward, X, max_iter=True),
        TypeError,
        "max_iter must be an integer; got True of type bool.",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"), [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_inputs(call: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_the_error_comes_before_any_rescaling() -> None:
    weights, x = _fresh()
    originals = [w.copy() for w in weights]
    with pytest.raises(ValueError, match="tol must be"):
        wi.lsuv(weights, _ok_forward, x, tol=2.0)
    for w, original in zip(weights, originals, strict=True):
        np.testing.assert_array_equal(w, original)
