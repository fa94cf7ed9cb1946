"""weightinit.jax.diagnose on Flax linen models: rows, gradients, verdicts, the first loss, and
that the model is left as it was."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from weightinit.signals import summarize

jax = pytest.importorskip("jax")
nn = pytest.importorskip("flax.linen")

from weightinit.jax import diagnose  # noqa: E402

WIDTH = 32


class Block(nn.Module):
    """``x + fc2(relu(fc1(x)))``, without normalisation."""

    zero: bool = False

    @nn.compact
    def __call__(self, x: Any) -> Any:
        last = nn.initializers.zeros if self.zero else nn.linear.default_kernel_init
        h = nn.relu(nn.Dense(WIDTH, name="fc1")(x))
        return x + nn.Dense(WIDTH, kernel_init=last, name="fc2")(h)


class ResidualMLP(nn.Module):
    depth: int = 24
    zero: bool = False

    @nn.compact
    def __call__(self, x: Any) -> Any:
        x = nn.Dense(WIDTH, name="stem")(x)
        for i in range(self.depth):
            x = Block(self.zero, name=f"Block_{i}")(x)
        return nn.Dense(10, name="head")(x)


def _inputs(shape: tuple[int, ...] = (64, 16), seed: int = 0) -> Any:
    return jax.random.normal(jax.random.key(seed), shape)


def _init(model: Any, x: Any, seed: int = 1) -> Any:
    return model.init(jax.random.key(seed), x)


def _problems(report: Any) -> list[str]:
    return [v.problem for v in report.verdicts]


def test_a_deep_residual_mlp_without_normalisation_explodes_at_a_block() -> None:
    model, x = ResidualMLP(), _inputs()
    report = diagnose(model, _init(model, x, 1), x)
    forward = [v for v in report.verdicts if v.problem.startswith("forward variance")]
    assert forward, report
    assert forward[0].problem in ("forward variance growing", "forward variance exploding")
    assert forward[0].layer.startswith("Block_")
    blocks = [s for s in report.layers if s.kind == "Block"]
    assert len(blocks) == 24
    assert all(s.branch_var is not None and s.stream_var is not None for s in blocks)
    assert all(s.branch_var is None for s in report.layers if s.kind == "Dense")


def test_zero_initialized_branches_keep_the_variance() -> None:
    model, x = ResidualMLP(zero=True), _inputs()
    report = diagnose(model, _init(model, x, 1), x)
    assert not [p for p in _problems(report) if p.startswith("forward variance")], report
    assert all(s.branch_var == 0.0 for s in report.layers if s.kind == "Block")


def test_rows_follow_the_forward_pass_and_equal_summarize_of_the_captured_outputs() -> None:
    model, x = ResidualMLP(depth=2), _inputs()
    variables = _init(model, x, 1)
    report = diagnose(model.apply, variables, x)
    assert [s.name for s in report.layers] == [
        "stem",
        "Block_0.fc1",
        "Block_0.fc2",
        "Block_0",
        "Block_1.fc1",
        "Block_1.fc2",
        "Block_1",
        "head",
    ]
    assert [s.index for s in report.layers] == list(range(8))
    _, state = model.apply(variables, x, capture_intermediates=True, mutable=["intermediates"])
    captured = state["intermediates"]
    for s in report.layers:
        node = captured
        for part in s.name.split("."):
            node = node[part]
        expected = summarize(np.asarray(node["__call__"][0]), channel_axis=-1, kind=s.kind)
        for key, value in expected.items():
            assert getattr(s, key) == value, (s.name, key)
    block = report.layers[3]
    y = np.asarray(captured["Block_0"]["__call__"][0], np.float64)
    stream = np.asarray(captured["stem"]["__call__"][0], np.float64)
    assert block.branch_var == pytest.approx(np.var(y - stream))
    assert block.stream_var == pytest.approx(np.var(stream))


def test_grad_rms_is_the_gradient_with_respect_to_each_output() -> None:
    model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(1)])
    x = _inputs((32, 4))
    variables = _init(model, x, 2)
    report = diagnose(model, variables, x)
    y = np.asarray(model.apply(variables, x), np.float64)
    # The default loss of a (N, 1) output is its mean square: d/dy = 2 y / N.
    assert report.output.classes is None
    assert report.output.loss == pytest.approx(np.mean(y**2), rel=1e-5)
    assert report.layers[-1].grad_rms == pytest.approx(np.sqrt(np.mean((2 * y / y.size) ** 2)))
    kernel = np.asarray(variables["params"]["layers_2"]["kernel"], np.float64)
    relu = np.maximum(np.asarray(model.apply(variables, x, method=_first_dense)), 0)
    grad_relu = (2 * y / y.size) @ kernel.T
    assert report.layers[1].name == "layers_1"
    assert report.layers[1].kind == "relu"
    assert report.layers[1].grad_rms == pytest.approx(np.sqrt(np.mean(grad_relu**2)), rel=1e-5)
    grad_dense = grad_relu * (relu > 0)
    assert report.layers[0].grad_rms == pytest.approx(np.sqrt(np.mean(grad_dense**2)), rel=1e-5)


def _first_dense(module: Any, x: Any) -> Any:
    return module.layers[0](x)


def test_a_deep_tanh_mlp_with_unit_normal_weights_saturates() -> None:
    layers: list[Any] = []
    for _ in range(8):
        layers += [nn.Dense(64, kernel_init=nn.initializers.normal(1.0)), nn.tanh]
    model = nn.Sequential([*layers, nn.Dense(10)])
    x = _inputs()
    report = diagnose(model, _init(model, x, 3), x)
    saturated = [v for v in report.verdicts if v.problem == "saturated activation"]
    assert saturated, report
    assert report.layers[[s.name for s in report.layers].index(saturated[0].layer)].kind == "tanh"


def _classifier(scale: float) -> tuple[Any, Any, Any]:
    model = nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(10)])
    x = _inputs()
    variables = _init(model, x, 4)
    params = jax.tree_util.tree_map(lambda a: a, variables["params"])
    params["layers_2"]["kernel"] = params["layers_2"]["kernel"] * scale
    return model, {"params": params}, x


def test_a_large_head_gives_a_first_loss_verdict_and_a_zero_head_ln_classes() -> None:
    model, variables, x = _classifier(100.0)
    report = diagnose(model, variables, x)
    assert "first loss far from ln(classes)" in _problems(report), report
    model, variables, x = _classifier(0.0)
    report = diagnose(model, variables, x)
    assert report.output.classes == 10
    assert abs(report.output.loss - math.log(10)) < 1e-3
    assert report.output.logit_std == 0.0
    assert "first loss far from ln(classes)" not in _problems(report)


def test_a_custom_loss_and_params_alone() -> None:
    model, variables, x = _classifier(1.0)

    def loss(output: Any, batch: Any) -> Any:
        return jax.numpy.mean(jax.numpy.abs(output))

    report = diagnose(model.apply, variables["params"], x, loss=loss)
    assert report.output.classes is None
    expected = float(jax.numpy.mean(jax.numpy.abs(model.apply(variables, x))))
    assert report.output.loss == pytest.approx(expected, rel=1e-6)
    with pytest.raises(TypeError, match="loss must return a scalar"):
        diagnose(model, variables, x, loss=lambda out, batch: out)


class Normed(nn.Module):
    @nn.compact
    def __call__(self, x: Any, train: bool = False) -> Any:
        x = nn.Dense(WIDTH)(x) * 5.0 + 3.0
        x = nn.BatchNorm(use_running_average=not train)(x)
        return nn.Dense(10)(x)


def test_batch_norm_in_training_mode_uses_the_batch_and_changes_nothing() -> None:
    model, x = Normed(), _inputs()
    variables = _init(model, x, 5)
    before = jax.tree_util.tree_map(lambda a: np.asarray(a).tobytes(), variables)
    report = diagnose(model, variables, x, train=True)
    norm = next(s for s in report.layers if s.kind == "BatchNorm")
    assert abs(norm.mean) < 1e-5 and norm.std == pytest.approx(1.0, abs=1e-3)
    evaluated = diagnose(model, variables, x)
    norm = next(s for s in evaluated.layers if s.kind == "BatchNorm")
    assert norm.std > 2.0  # the running statistics are still the initial (0, 1)
    after = jax.tree_util.tree_map(lambda a: np.asarray(a).tobytes(), variables)
    assert before == after


def test_the_report_prints_and_its_dict_is_json_safe() -> None:
    model, x = ResidualMLP(depth=3), _inputs()
    report = diagnose(model, _init(model, x, 1), x)
    text = str(report)
    assert text.startswith("ResidualMLP on (64, 16) float32: 11 layers")
    assert "Block_2.fc2" in text
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["layers"][0]["name"] == "stem"
    assert data["output"]["classes"] == 10
    assert report.histograms()


class Fails(nn.Module):
    @nn.compact
    def __call__(self, x: Any) -> Any:
        if x.shape[0] > 2:
            raise ValueError(f"expected at most 2 rows, got {x.shape[0]}")
        return x


class Outer(nn.Module):
    @nn.compact
    def __call__(self, x: Any) -> Any:
        x = nn.Dense(4)(x)
        return Fails(name="check")(nn.Dense(5, name="inner")(x))


def test_an_error_in_the_forward_names_the_module() -> None:
    model = Outer()
    variables = _init(model, _inputs((2, 4)))
    with pytest.raises(ValueError, match=r"module 'check' \(Fails\): ValueError: expected at"):
        diagnose(model, variables, _inputs((3, 4)))


def test_modules_inside_a_lifted_transform_have_no_rows() -> None:
    class Rematted(nn.Module):
        @nn.compact
        def __call__(self, x: Any) -> Any:
            x = nn.Dense(WIDTH, name="stem")(x)
            x = nn.remat(Block)(name="Block_0")(x)
            return nn.Dense(10, name="head")(x)

    model, x = Rematted(), _inputs()
    report = diagnose(model, _init(model, x), x)
    assert [(s.name, s.index) for s in report.layers] == [("stem", 0), ("head", 1)]


def test_bad_arguments() -> None:
    model = nn.Dense(3)
    x = _inputs((2, 4))
    with pytest.raises(TypeError, match="params must be a Flax variables dict"):
        diagnose(model, [1, 2], x)
    with pytest.raises(TypeError, match="apply_fn must be a linen module"):
        diagnose(3, {"params": {}}, x)
    with pytest.raises(TypeError, match="method= needs a linen module"):
        diagnose(lambda v, x: x, {"params": {}}, x, method="encode")
