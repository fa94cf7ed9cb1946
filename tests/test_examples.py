"""Tests of ``examples/digits_mlp.py``: what it shows holds on a small, fast budget.

The example's functions are loaded from its file; the networks here are shallower and
narrower than the example's defaults, and train for a few epochs only.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import weightinit as wi

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "digits_mlp.py"


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("digits_mlp", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["digits_mlp"] = module  # dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["digits_mlp"]


@pytest.fixture(scope="module")
def data(example: ModuleType) -> Any:
    return example.load_data(seed=0)


def test_the_data_is_standardised(example: ModuleType, data: Any) -> None:
    assert data.x_train.shape == (1347, 64) and data.x_test.shape == (450, 64)
    assert set(np.unique(data.y_train)) == set(range(10))
    assert np.allclose(data.x_train.mean(axis=0), 0.0, atol=1e-5)


def test_backpropagation_matches_finite_differences(example: ModuleType, data: Any) -> None:
    net = example.make_network(wi.he_normal(), "tanh", example.layer_sizes(2, 5), seed=1)
    net.weights = [w.astype(np.float64) for w in net.weights]
    net.biases = [b.astype(np.float64) + 0.1 for b in net.biases]
    x, y = data.x_train[:20].astype(np.float64), data.y_train[:20]
    _, grad_w, grad_b = example.loss_and_gradients(net, x, y)
    step = 1e-6
    for params, grads in ((net.weights, grad_w), (net.biases, grad_b)):
        for p, g in zip(params, grads, strict=True):
            index = np.unravel_index(np.argmax(np.abs(g)), g.shape)
            p[index] += step
            up = example.loss_and_gradients(net, x, y)[0]
            p[index] -= 2 * step
            down = example.loss_and_gradients(net, x, y)[0]
            p[index] += step
            assert (up - down) / (2 * step) == pytest.approx(g[index], rel=1e-5, abs=1e-9)


def test_he_normal_trains_a_deep_relu_net_that_small_weights_cannot(
    example: ModuleType, data: Any
) -> None:
    options = {"depth": 6, "width": 32, "epochs": 4, "seed": 0}
    he = example.run_one("he", wi.he_normal(), "relu", data, **options)
    small = example.run_one("small", wi.scaled_normal(0.01), "relu", data, **options)
    he_loss, small_loss = he.history.train_loss[-1], small.history.train_loss[-1]
    # With std 0.01 the signal shrinks ~20-fold per layer: the net never leaves chance level
    # (ln 10 = 2.30), while He's weights keep it alive and the loss falls far below.
    assert small_loss > 2.2
    assert he_loss < 0.5
    assert he_loss < 0.25 * small_loss
    assert he.history.test_accuracy[-1] > 0.8


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_zero_initialised_hidden_units_stay_equal(
    example: ModuleType, data: Any, activation: str
) -> None:
    net = example.make_network(wi.zeros(), activation, example.layer_sizes(4, 16), seed=0)
    history = example.train(net, data, epochs=3, seed=0)
    assert all(np.isfinite(history.train_loss))
    assert example.symmetry_gaps(net) == [0.0] * 4
    for w in net.weights[:-1]:
        assert np.array_equal(w, np.broadcast_to(w[:, :1], w.shape))


def test_constant_initialised_units_move_but_stay_equal(example: ModuleType, data: Any) -> None:
    net = example.make_network(wi.constant(0.05), "tanh", example.layer_sizes(4, 16), seed=0)
    start = [w.copy() for w in net.weights]
    example.train(net, data, epochs=3, seed=0)
    moved = max(float(np.abs(w - w0).max()) for w, w0 in zip(net.weights, start, strict=True))
    assert moved > 1e-3
    assert max(example.symmetry_gaps(net)) < 1e-6 * moved


def test_lsuv_network_starts_at_unit_variance(example: ModuleType, data: Any) -> None:
    sizes = example.layer_sizes(6, 32)
    net, report = example.make_lsuv_network("relu", sizes, data.x_train[:300], seed=0)
    assert report.converged
    for h in example.pre_activations(net, data.x_train[:300]):
        assert abs(float(h.std()) - 1.0) <= 0.05


def test_a_diverging_run_is_reported(example: ModuleType, data: Any) -> None:
    run = example.run_one(
        "big", wi.scaled_normal(1.0), "relu", data, depth=6, width=32, epochs=3, seed=0
    )
    history = run.history
    assert history.diverged_at is not None
    assert len(history.train_loss) == 3 + 1
    assert np.isnan(history.train_loss[-1])
    assert "diverged" in example.table([run], 3)


def test_the_script_runs_and_saves_the_figure(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--depth",
            "6",
            "--width",
            "16",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = result.stdout
    for label in ("zeros()", "scaled_normal(0.01)", "he_normal()", "orthogonal + lsuv"):
        assert label in text
    assert "recommend('relu') is he_normal()" in text
    assert "All 16 hidden units of every layer are still identical" in text
    assert "trainings in" in text
