"""Whole models in JAX (Flax linen and NNX, Equinox, Haiku) and Keras: one seed, the same
values as PyTorch up to layout; the plans' fans against the frameworks' own; the
frameworks' defaults as schemes against the frameworks' own initializers; sharded trees;
residual schemes; and every error path leaving the model as it was.

Statistical checks compare two samples of the same law (ours and the framework's), so the
tolerance is twice the sample std's bound ``4.3/sqrt(2n)`` (failure odds below 1e-8 each),
with ``n`` large enough that a 5% error exceeds it; or they go through
:func:`weightinit.audit.audit`, whose tolerances come from the sampling distribution.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import weightinit as wi
from weightinit.audit import audit

if "KERAS_BACKEND" not in os.environ:  # Keras needs a backend that is installed
    for _backend in ("jax", "torch"):
        if importlib.util.find_spec(_backend):
            os.environ["KERAS_BACKEND"] = _backend
            break

SEED = 11


def _close(ours: np.ndarray[Any, Any], theirs: np.ndarray[Any, Any]) -> None:
    """Two samples of one law: their stds agree within twice the sampling bound."""
    n = min(ours.size, theirs.size)
    tolerance = 2 * 4.3 / math.sqrt(2 * n)
    assert abs(float(np.std(ours)) / float(np.std(theirs)) - 1) < tolerance, (
        np.std(ours),
        np.std(theirs),
        tolerance,
    )


# ------------------------------------------------------- one model in every framework


def _expected() -> dict[str, np.ndarray[Any, Any]]:
    """The small CNN + MLP's values in PyTorch's layouts, from the core alone: each
    parameter ``name`` drawn with ``Key.from_seed(SEED).fold_in(name)``."""
    root = wi.Key.from_seed(SEED)
    he = wi.he_normal()
    return {
        "conv1.weight": he((4, 1, 3, 3), seed=root.fold_in("conv1.weight"), layout="out_in"),
        "conv1.bias": np.zeros(4, np.float32),
        "fc1.weight": he((16, 64), seed=root.fold_in("fc1.weight"), layout="out_in"),
        "fc1.bias": np.zeros(16, np.float32),
        "fc2.weight": he((3, 16), seed=root.fold_in("fc2.weight"), layout="out_in"),
        "fc2.bias": np.zeros(3, np.float32),
    }


def _torch_layout(name: str, array: Any) -> np.ndarray[Any, Any]:
    """A kernel of a JAX or Keras model ((in, out), HWIO) in PyTorch's layout."""
    array = np.asarray(array)
    if array.ndim == 2:
        return array.T
    if array.ndim == 4:
        return array.transpose(3, 2, 0, 1)
    return array


def _torch() -> dict[str, Any]:
    torch = pytest.importorskip("torch")
    from weightinit.torch import initialize_

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 4, 3)
            self.fc1 = torch.nn.Linear(64, 16)
            self.fc2 = torch.nn.Linear(16, 3)

    net = Net()
    initialize_(net, seed=SEED, activation="relu")
    return {n: p.detach().numpy() for n, p in net.named_parameters()}


def _linen() -> dict[str, Any]:
    jax = pytest.importorskip("jax")
    nn = pytest.importorskip("flax.linen")
    from weightinit.jax import initialize

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x: Any) -> Any:
            x = nn.relu(nn.Conv(4, (3, 3), padding="VALID", name="conv1")(x))
            x = nn.relu(nn.Dense(16, name="fc1")(x.reshape(x.shape[0], -1)))
            return nn.Dense(3, name="fc2")(x)

    shapes = jax.eval_shape(Net().init, jax.random.key(0), jax.numpy.ones((1, 6, 6, 1)))
    params = initialize(shapes, seed=SEED, activation="relu")["params"]
    return {
        f"{m}.{'weight' if k == 'kernel' else k}": v
        for m, d in params.items()
        for k, v in d.items()
    }


def _nnx() -> dict[str, Any]:
    nnx = pytest.importorskip("flax.nnx")
    from weightinit.jax import initialize

    class Net(nnx.Module):
        def __init__(self, rngs: Any) -> None:
            self.conv1 = nnx.Conv(1, 4, (3, 3), padding="VALID", rngs=rngs)
            self.fc1 = nnx.Linear(64, 16, rngs=rngs)
            self.fc2 = nnx.Linear(16, 3, rngs=rngs)

    net = initialize(Net(nnx.Rngs(0)), seed=SEED, activation="relu")
    return {
        f"{m}.{'weight' if k == 'kernel' else k}": getattr(getattr(net, m), k)[...]
        for m in ("conv1", "fc1", "fc2")
        for k in ("kernel", "bias")
    }


def _equinox() -> dict[str, Any]:
    jax = pytest.importorskip("jax")
    eqx = pytest.importorskip("equinox")
    from weightinit.jax import initialize

    class Net(eqx.Module):
        conv1: Any
        fc1: Any
        fc2: Any

        def __init__(self, key: Any) -> None:
            keys = jax.random.split(key, 3)
            self.conv1 = eqx.nn.Conv2d(1, 4, 3, key=keys[0])
            self.fc1 = eqx.nn.Linear(64, 16, key=keys[1])
            self.fc2 = eqx.nn.Linear(16, 3, key=keys[2])

    net = initialize(Net(jax.random.key(0)), seed=SEED, activation="relu")
    found = {
        f"{m}.{k}": getattr(getattr(net, m), k)
        for m in ("conv1", "fc1", "fc2")
        for k in ("weight", "bias")
    }
    found["conv1.bias"] = np.asarray(found["conv1.bias"]).reshape(-1)  # Equinox's (C, 1, 1)
    return found


def _haiku() -> dict[str, Any]:
    jax = pytest.importorskip("jax")
    hk = pytest.importorskip("haiku")
    from weightinit.jax import initialize

    def forward(x: Any) -> Any:
        x = jax.nn.relu(hk.Conv2D(4, 3, padding="VALID", name="conv1")(x))
        x = jax.nn.relu(hk.Linear(16, name="fc1")(x.reshape(x.shape[0], -1)))
        return hk.Linear(3, name="fc2")(x)

    params = hk.transform(forward).init(jax.random.key(0), jax.numpy.ones((1, 6, 6, 1)))
    params = initialize(params, seed=SEED, activation="relu")
    return {
        f"{m}.{'weight' if k == 'w' else 'bias'}": v
        for m, d in params.items()
        for k, v in d.items()
    }


def _keras() -> dict[str, Any]:
    keras = pytest.importorskip("keras")
    from weightinit.keras import initialize

    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu", name="fc1"),
            keras.layers.Dense(3, name="fc2"),
        ]
    )
    initialize(model, seed=SEED, activation="relu")
    found = {}
    for layer in model.layers:
        for v in layer.weights:
            leaf = "weight" if v.path.endswith("kernel") else "bias"
            found[f"{layer.name}.{leaf}"] = keras.ops.convert_to_numpy(v.value)
    return found


@pytest.mark.parametrize("build", [_torch, _linen, _nnx, _equinox, _haiku, _keras])
def test_one_seed_gives_one_model_in_every_framework(build: Any) -> None:
    found = build()
    expected = _expected()
    assert sorted(found) == sorted(expected)
    for name, array in expected.items():
        ours = _torch_layout(name, found[name]) if build not in (_torch, _equinox) else found[name]
        assert np.asarray(ours, np.float32).tobytes() == array.tobytes(), name


# ------------------------------------------------------------- Flax: fans and schemes


@pytest.fixture
def jax() -> Any:
    return pytest.importorskip("jax")


@pytest.fixture
def linen() -> Any:
    return pytest.importorskip("flax.linen")


def test_flax_attention_kernels_have_jax_fans_and_pass_their_audit(jax: Any, linen: Any) -> None:
    from weightinit.jax import initialize
    from weightinit.jax import plan

    attention = linen.MultiHeadDotProductAttention(num_heads=8, qkv_features=512)
    x = jax.numpy.ones((1, 4, 256))
    shapes = jax.eval_shape(attention.init, jax.random.key(0), x)
    p = plan(shapes)
    for name in ("query", "key", "value"):
        assert p[f"{name}.weight"].weight.fans.fan_in == 256  # (E, H, D): in E, out H * D
        assert p[f"{name}.weight"].weight.fans.fan_out == 512
    assert p["out.weight"].weight.fans.fan_in == 512  # (H, D, E): in H * D
    made = initialize(shapes, seed=SEED)["params"]
    values = {f"{m}.weight": made[m]["kernel"] for m in ("query", "key", "value", "out")}
    values |= {f"{m}.bias": made[m]["bias"] for m in ("query", "key", "value", "out")}
    assert audit(values, p).ok
    # Flax's own lecun_normal on these kernels has the same spread: the fans agree.
    own = attention.init(jax.random.key(0), x)["params"]
    flax_plan = plan(shapes, scheme="flax")
    ours = initialize(shapes, seed=SEED, scheme="flax")["params"]
    for m in ("query", "out"):
        _close(np.asarray(ours[m]["kernel"]), np.asarray(own[m]["kernel"]))
    assert flax_plan.formulas["query.weight"] == "lecun_normal (truncated)"


def test_flax_scheme_matches_flax_own_defaults(jax: Any, linen: Any) -> None:
    from weightinit.jax import initialize

    class Net(linen.Module):
        @linen.compact
        def __call__(self, tokens: Any) -> Any:
            x = linen.Embed(4096, 64)(tokens)
            x = linen.Conv(256, (5,))(x)
            return linen.Dense(512)(linen.LayerNorm()(x))

    tokens = jax.numpy.ones((1, 8), dtype=int)
    own = Net().init(jax.random.key(0), tokens)["params"]
    ours = initialize(jax.eval_shape(Net().init, jax.random.key(0), tokens), SEED, scheme="flax")
    ours = ours["params"]
    _close(np.asarray(ours["Embed_0"]["embedding"]), np.asarray(own["Embed_0"]["embedding"]))
    _close(np.asarray(ours["Conv_0"]["kernel"]), np.asarray(own["Conv_0"]["kernel"]))
    _close(np.asarray(ours["Dense_0"]["kernel"]), np.asarray(own["Dense_0"]["kernel"]))
    assert np.all(np.asarray(ours["LayerNorm_0"]["scale"]) == 1)
    assert np.all(np.asarray(ours["Dense_0"]["bias"]) == 0)


def test_a_dense_general_kernel_needs_its_axes_and_takes_them_from_roles(
    jax: Any, linen: Any
) -> None:
    from weightinit.jax import initialize
    from weightinit.jax import plan

    layer = linen.DenseGeneral((4, 32), name="proj")
    x = jax.numpy.ones((1, 64))
    shapes = jax.eval_shape(layer.init, jax.random.key(0), x)
    with pytest.raises(ValueError, match="in_axis"):
        plan(shapes)
    roles = {"weight": {"role": "projection", "in_axis": 0, "out_axis": (1, 2)}}
    p = plan(shapes, roles=roles)
    assert p["weight"].weight.fans == wi.fans((64, 4, 32), in_axis=0, out_axis=(1, 2))
    made = initialize(shapes, SEED, roles=roles)
    assert made["params"]["kernel"].shape == (64, 4, 32)


def test_linen_batch_statistics_start_at_zero_and_one(jax: Any, linen: Any) -> None:
    from weightinit.jax import initialize

    model = linen.Sequential([linen.Dense(8), linen.BatchNorm(use_running_average=True)])
    variables = model.init(jax.random.key(0), jax.numpy.ones((2, 4)))
    made = initialize(variables, SEED)
    stats = made["batch_stats"]["layers_1"]
    assert np.all(np.asarray(stats["mean"]) == 0) and np.all(np.asarray(stats["var"]) == 1)
    with pytest.raises(ValueError, match="collection 'cache'"):
        initialize({**variables, "cache": {"x": jax.numpy.ones(2)}}, SEED)


def test_an_integer_leaf_is_an_error_that_names_it(jax: Any) -> None:
    from weightinit.jax import plan

    tree = {"Dense_0": {"kernel": jax.numpy.ones((4, 4)), "count": jax.numpy.ones((), int)}}
    with pytest.raises(ValueError, match=r"Dense_0\.count.*floating-point"):
        plan(tree)


# --------------------------------------------------------------- NNX: schemes in place


def _nnx_gpt(nnx: Any, layers: int, width: int = 128) -> Any:
    class Block(nnx.Module):
        def __init__(self, rngs: Any) -> None:
            self.ln1 = nnx.LayerNorm(width, rngs=rngs)
            self.attn = nnx.MultiHeadAttention(
                num_heads=4, in_features=width, decode=False, rngs=rngs
            )
            self.ln2 = nnx.LayerNorm(width, rngs=rngs)
            self.fc1 = nnx.Linear(width, 4 * width, rngs=rngs)
            self.fc2 = nnx.Linear(4 * width, width, rngs=rngs)

    class GPT(nnx.Module):
        def __init__(self, rngs: Any) -> None:
            self.embed = nnx.Embed(512, width, rngs=rngs)
            self.layers = nnx.List([Block(rngs) for _ in range(layers)])
            self.lm_head = nnx.Linear(width, 512, use_bias=False, rngs=rngs)

    return GPT(nnx.Rngs(0))


def _nnx_values(nnx: Any, model: Any) -> dict[str, np.ndarray[Any, Any]]:
    from weightinit.jax._tree import _canonical
    from weightinit.jax._tree import _nnx_entries

    return {
        _canonical(e.module, e.leaf): np.asarray(e.value)
        for e in _nnx_entries(model)
        if e.stat is None
    }


def test_gpt2_scheme_on_an_nnx_model_scales_the_residual_projections(jax: Any) -> None:
    nnx = pytest.importorskip("flax.nnx")
    from weightinit.jax import initialize
    from weightinit.jax import plan

    model = _nnx_gpt(nnx, layers=3)
    p = plan(model, scheme="gpt2")
    residual = [n for n, s in p.slots.items() if s.role == "residual_projection"]
    assert residual == [
        f"layers.{i}.{part}.weight" for i in range(3) for part in ("attn.out", "fc2")
    ]
    assert p.slots["lm_head.weight"].role == "head"
    initialize(model, seed=SEED, scheme="gpt2")
    values = _nnx_values(nnx, model)
    assert audit(values, p).ok
    fc2 = values["layers.2.fc2.weight"]
    assert abs(float(np.std(fc2)) / (0.02 / math.sqrt(6)) - 1) < 4.3 / math.sqrt(2 * fc2.size)


def test_a_failed_plan_leaves_an_nnx_model_as_it_was(jax: Any) -> None:
    nnx = pytest.importorskip("flax.nnx")
    from weightinit.jax import initialize

    model = _nnx_gpt(nnx, layers=2, width=32)
    before = _nnx_values(nnx, model)
    with pytest.raises(ValueError, match="matches no parameter"):
        initialize(model, SEED, rules={"*nothing*": wi.zeros()})
    after = _nnx_values(nnx, model)
    assert all(before[n].tobytes() == after[n].tobytes() for n in before)


# ------------------------------------------------------------------ Equinox and Haiku


def test_equinox_scheme_matches_equinox_own_defaults(jax: Any) -> None:
    eqx = pytest.importorskip("equinox")
    from weightinit.jax import initialize

    key = jax.random.key(0)
    model = [
        eqx.nn.Linear(512, 256, key=key),
        eqx.nn.Conv2d(64, 128, 3, key=key),
        eqx.nn.Embedding(1024, 64, key=key),
    ]
    made = initialize(model, SEED, scheme="equinox")
    _close(np.asarray(made[0].weight), np.asarray(model[0].weight))
    _close(np.asarray(made[1].weight), np.asarray(model[1].weight))
    _close(np.asarray(made[2].weight), np.asarray(model[2].weight))
    bound = 1 / math.sqrt(512)
    assert (
        np.abs(np.asarray(made[0].bias)).max() <= bound
        and np.asarray(made[0].bias).std() > bound / 3
    )


def test_equinox_weights_are_read_out_in(jax: Any) -> None:
    eqx = pytest.importorskip("equinox")
    from weightinit.jax import plan

    p = plan(eqx.nn.Linear(784, 256, key=jax.random.key(0)))
    assert p["weight"].weight.fans.fan_in == 784  # (out, in): not swapped


def test_haiku_scheme_matches_haiku_own_defaults(jax: Any) -> None:
    hk = pytest.importorskip("haiku")
    from weightinit.jax import initialize

    def forward(tokens: Any) -> Any:
        return hk.Linear(512)(hk.Embed(2048, 256)(tokens))

    own = hk.transform(forward).init(jax.random.key(0), jax.numpy.ones((1, 4), int))
    ours = initialize(own, SEED, scheme="haiku")
    _close(np.asarray(ours["linear"]["w"]), np.asarray(own["linear"]["w"]))
    _close(np.asarray(ours["embed"]["embeddings"]), np.asarray(own["embed"]["embeddings"]))


# ------------------------------------------------------------------ sharded trees

_SHARDED = r"""
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import flax.linen as nn
import weightinit as wi
from weightinit.jax import initialize

asked = []
kind = wi.he_normal().__class__
original = kind._make

def recording(self, weight, dtype, seed, threads, region=None):
    asked.append(region)
    return original(self, weight, dtype, seed, threads, region)

model = nn.Sequential([nn.Dense(256), nn.relu, nn.Dense(64)])
shapes = jax.eval_shape(model.init, jax.random.key(0), jax.numpy.ones((1, 128)))
whole = initialize(shapes, seed=3, activation="relu")
mesh = Mesh(np.array(jax.devices()).reshape(2, 2), ("a", "b"))
rows = NamedSharding(mesh, P("a", "b"))
sharded = jax.tree_util.tree_map(
    lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=rows if s.ndim == 2 else None), shapes
)
kind._make = recording
made = initialize(sharded, seed=3, activation="relu")
kernel = made["params"]["layers_0"]["kernel"]
assert kernel.sharding == rows, kernel.sharding
assert np.asarray(kernel).tobytes() == np.asarray(whole["params"]["layers_0"]["kernel"]).tobytes()
regions = [r for r in asked if r is not None]
assert len(regions) == 8, asked  # two kernels, four devices: each makes its own region
for shard in kernel.addressable_shards:
    assert shard.data.shape == (64, 128)
print("ok")
"""


def test_sharded_shape_structs_come_back_sharded_each_device_its_region(
    jax: Any, tmp_path: Any
) -> None:
    pytest.importorskip("flax.linen")
    script = tmp_path / "sharded.py"
    script.write_text(_SHARDED)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"


# -------------------------------------------------------------------------- Keras


@pytest.fixture
def keras() -> Any:
    return pytest.importorskip("keras")


def _keras_attention(keras: Any) -> Any:
    inputs = keras.Input((16, 128))
    x = keras.layers.LayerNormalization(name="ln")(inputs)
    x = keras.layers.MultiHeadAttention(8, 64, name="attn")(x, x)
    x = keras.layers.Dense(512, name="fc1")(x)
    x = keras.layers.LSTM(128, name="lstm")(x)
    return keras.Model(inputs, x)


def test_keras_einsum_kernels_get_their_true_fans(keras: Any) -> None:
    from weightinit.keras import initialize
    from weightinit.keras import plan

    model = _keras_attention(keras)
    p = plan(model)
    assert p["attn.query.weight"].weight.fans.fan_in == 128  # (E, H, D): in E
    assert p["attn.attention_output.weight"].weight.fans.fan_in == 8 * 64  # (H, D, E)
    assert p.slots["lstm.lstm_cell.recurrent_kernel"].weight.blocks == 4
    initialize(model, SEED, scheme="recommended")
    values = {
        n: keras.ops.convert_to_numpy(v.value) for n, v in _keras_values(keras, model).items()
    }
    assert audit(values, p).ok


def _keras_values(keras: Any, model: Any) -> dict[str, Any]:
    words = {"kernel": "weight", "gamma": "weight", "beta": "bias", "embeddings": "weight"}
    out = {}
    for v in model.weights:
        parts = v.path.split("/")
        out[".".join((*parts[:-1], words.get(parts[-1], parts[-1])))] = v
    return out


def test_keras_scheme_matches_keras_own_defaults(keras: Any) -> None:
    from weightinit.keras import initialize

    own = _keras_attention(keras)
    ours = _keras_attention(keras)
    initialize(ours, SEED, scheme="keras", rules={"lstm.lstm_cell.bias": wi.zeros()})
    theirs = _keras_values(keras, own)
    for name, variable in _keras_values(keras, ours).items():
        if name.endswith("weight") and len(variable.shape) >= 2:
            _close(
                keras.ops.convert_to_numpy(variable.value),
                keras.ops.convert_to_numpy(theirs[name].value),
            )


def test_a_failed_keras_plan_leaves_the_model_as_it_was(keras: Any) -> None:
    from weightinit.keras import initialize

    model = _keras_attention(keras)
    before = [keras.ops.convert_to_numpy(v.value).tobytes() for v in model.weights]
    with pytest.raises(ValueError, match="forget-gate bias at 1"):
        initialize(model, SEED, scheme="keras")
    with pytest.raises(ValueError, match="closest names"):
        initialize(model, SEED, rules={"fc9.weight": wi.zeros()})
    assert [keras.ops.convert_to_numpy(v.value).tobytes() for v in model.weights] == before


def test_keras_unbuilt_model_is_refused(keras: Any) -> None:
    from weightinit.keras import initialize

    with pytest.raises(ValueError, match="built"):
        initialize(keras.Sequential([keras.layers.Dense(4)]), SEED)


def test_mup_takes_a_jax_plan_as_its_base_and_keeps_attention_axes(jax: Any) -> None:
    nnx = pytest.importorskip("flax.nnx")
    from weightinit import schemes
    from weightinit.jax import plan

    base = plan(_nnx_gpt(nnx, layers=2, width=32))
    wide = plan(_nnx_gpt(nnx, layers=2, width=128), scheme=schemes.mup(base))
    # The key kernel (d, heads, d / heads): Glorot's σ at the base width (fans 32 and 32)
    # over √m, m = 128 / 32.
    key = wide["layers.1.attn.key.weight"]
    assert key.initializer.variance(key.shape) == pytest.approx(2 / 64 / 4, rel=1e-12)
    assert wide.formulas["layers.1.attn.query.weight"] == "0: μP's zero query"
    assert wide.formulas["lm_head.weight"] == "0: μP's zero readout"


def test_flax_recurrent_cells_have_gate_roles(jax: Any, linen: Any) -> None:
    from weightinit.jax import plan

    x = jax.numpy.ones((1, 3))
    for cell in (linen.LSTMCell(5), linen.GRUCell(5)):
        carry = cell.initialize_carry(jax.random.key(0), x.shape)
        p = plan(jax.eval_shape(cell.init, jax.random.key(0), carry, x))
        hidden = "hf" if isinstance(cell, linen.LSTMCell) else "hz"
        assert p.slots[f"{hidden}.weight"].role == "recurrent_hidden"
        assert p[f"{hidden}.weight"].initializer == wi.orthogonal()
        assert p.slots["ir.weight" if hidden == "hz" else "ii.weight"].role == "recurrent_input"


# ------------------------------------------ trees that keep no order, dtype or layout


def _flax_resnet(linen: Any) -> Any:
    """The residual block of Flax's examples: three convolutions, each with its batch norm,
    and a projection shortcut (conv_proj, norm_proj) where the shape changes."""

    class ResNetBlock(linen.Module):
        features: int
        strides: int = 1

        @linen.compact
        def __call__(self, x: Any) -> Any:
            norm = functools.partial(linen.BatchNorm, use_running_average=True)
            y = linen.relu(norm()(linen.Conv(self.features, (1, 1))(x)))
            y = linen.relu(norm()(linen.Conv(self.features, (3, 3), self.strides)(y)))
            y = norm()(linen.Conv(4 * self.features, (1, 1))(y))
            if x.shape != y.shape:
                x = linen.Conv(4 * self.features, (1, 1), self.strides, name="conv_proj")(x)
                x = linen.BatchNorm(use_running_average=True, name="norm_proj")(x)
            return linen.relu(x + y)

    class ResNet(linen.Module):
        @linen.compact
        def __call__(self, x: Any) -> Any:
            x = linen.Conv(16, (3, 3), name="conv_init")(x)
            for i in range(3):
                x = ResNetBlock(16, strides=2 if i == 1 else 1)(x)
            return linen.Dense(10, name="head")(x.mean((1, 2)))

    return ResNet()


def test_zero_init_residual_zeroes_the_last_norm_of_each_branch_in_any_tree_order(
    jax: Any, linen: Any
) -> None:
    from weightinit.jax import plan

    model = _flax_resnet(linen)
    x = jax.numpy.ones((1, 8, 8, 3))
    for tree in (
        model.init(jax.random.key(0), x),
        jax.eval_shape(model.init, jax.random.key(0), x),
    ):
        p = plan(tree, scheme="recommended+zero_init_residual", activation="relu")
        zeroed = sorted(
            n for n, q in p.items() if q.initializer == wi.zeros() and n.endswith("weight")
        )
        assert zeroed == [f"ResNetBlock_{i}.BatchNorm_2.weight" for i in range(3)], zeroed
        assert p.slots["ResNetBlock_0.conv_proj.weight"].place.branch == 0


def test_a_long_sequential_keeps_its_head_when_the_tree_is_sorted(jax: Any, linen: Any) -> None:
    from weightinit.jax import plan

    model = linen.Sequential(
        [layer for _ in range(6) for layer in (linen.Dense(8), linen.relu)] + [linen.Dense(3)]
    )
    shapes = jax.eval_shape(model.init, jax.random.key(0), jax.numpy.ones((1, 4)))
    heads = [n for n, s in plan(shapes).slots.items() if s.role == "head"]
    assert heads == ["layers_12.weight"]


def test_bfloat16_parameters_are_made_and_cast(jax: Any, linen: Any) -> None:
    eqx = pytest.importorskip("equinox")
    from weightinit.jax import initialize

    bf16 = jax.numpy.bfloat16
    layer = linen.Dense(32, param_dtype=bf16)
    shapes = jax.eval_shape(layer.init, jax.random.key(0), jax.numpy.ones((1, 16)))
    made = initialize(shapes, SEED)["params"]["kernel"]
    full = initialize(
        jax.eval_shape(linen.Dense(32).init, jax.random.key(0), jax.numpy.ones((1, 16))), SEED
    )
    assert made.dtype == bf16
    assert np.array_equal(
        np.asarray(made, np.float32), np.asarray(full["params"]["kernel"].astype(bf16), np.float32)
    )
    linear = eqx.nn.Linear(16, 32, key=jax.random.key(0))
    linear = jax.tree_util.tree_map(lambda a: a.astype(bf16), linear)
    again = initialize(linear, SEED)
    assert again.weight.dtype == bf16
    assert not np.array_equal(
        np.asarray(again.weight, np.float32), np.asarray(linear.weight, np.float32)
    )


def test_transposed_kernels_named_by_their_framework(jax: Any, linen: Any) -> None:
    hk = pytest.importorskip("haiku")
    nnx = pytest.importorskip("flax.nnx")
    from weightinit.jax import plan

    def forward(x: Any) -> Any:
        return hk.Conv2DTranspose(16, 3, name="deconv")(x)

    params = hk.transform(forward).init(jax.random.key(0), jax.numpy.ones((1, 4, 4, 4)))
    assert plan(params)["deconv.weight"].weight.fans.fan_in == 4 * 9  # (*kernel, out, in)
    flipped = nnx.ConvTranspose(4, 16, (3, 3), transpose_kernel=True, rngs=nnx.Rngs(0))
    assert plan(flipped)["weight"].weight.fans.fan_in == 4 * 9
    grouped = linen.Conv(8, (3, 3), feature_group_count=4)
    shapes = jax.eval_shape(grouped.init, jax.random.key(0), jax.numpy.ones((1, 4, 4, 8)))
    fixed = plan(shapes, roles={"weight": {"role": "convolution", "layout": "in_out", "groups": 4}})
    assert fixed["weight"].weight.fans == (18, 18, 9)
