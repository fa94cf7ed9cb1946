"""weightinit.jax and weightinit.keras (each test skips where its framework is absent)."""

from __future__ import annotations

import importlib.util
import math
import os

import numpy as np
import pytest

import weightinit as wi

if "KERAS_BACKEND" not in os.environ:  # Keras needs a backend that is installed
    for _backend in ("jax", "torch"):
        if importlib.util.find_spec(_backend):
            os.environ["KERAS_BACKEND"] = _backend
            break


# --------------------------------------------------------------------------- JAX and Flax


@pytest.fixture
def jax():  # type: ignore[no-untyped-def]
    return pytest.importorskip("jax")


def test_values_are_a_pure_function_of_the_key(jax) -> None:
    from weightinit.jax import initializer
    from weightinit.jax import seed_from_key

    init = wi.truncated_normal(0.02)
    make = initializer(init)
    for key in (jax.random.key(7), jax.random.PRNGKey(7)):
        eager = np.asarray(make(key, (300, 200)))
        jitted = np.asarray(jax.jit(make, static_argnums=1)(key, (300, 200)))
        expected = init((300, 200), seed=seed_from_key(key))
        assert eager.tobytes() == expected.tobytes() == jitted.tobytes()
    assert seed_from_key(jax.random.key(7)) == seed_from_key(jax.random.PRNGKey(7))
    assert seed_from_key(jax.random.key(7)) != seed_from_key(jax.random.key(8))
    half = make(jax.random.key(1), (8, 4), jax.numpy.bfloat16)
    assert half.dtype == jax.numpy.bfloat16
    cast = make(jax.random.key(1), (8, 4)).astype(jax.numpy.bfloat16)
    assert np.array_equal(np.asarray(half, np.float32), np.asarray(cast, np.float32))
    with pytest.raises(ValueError, match="has no fans"):
        initializer(wi.he_normal())(jax.random.key(0), (5,))


def test_flax_kernels_use_hwio_fans(jax) -> None:
    linen = pytest.importorskip("flax.linen")
    from weightinit.jax import initializer

    class Net(linen.Module):
        @linen.compact
        def __call__(self, x):  # type: ignore[no-untyped-def]
            x = linen.Conv(64, (3, 3), kernel_init=initializer(wi.he_normal()))(x)
            return linen.Dense(10, kernel_init=initializer(wi.glorot_uniform()))(x.mean((1, 2)))

    x = jax.numpy.ones((1, 8, 8, 64))
    params = Net().init(jax.random.key(0), x)["params"]
    jitted = jax.jit(Net().init)(jax.random.key(0), x)["params"]
    kernel = np.asarray(params["Conv_0"]["kernel"], dtype=np.float64)
    assert kernel.shape == (3, 3, 64, 64)
    assert np.array_equal(kernel, np.asarray(jitted["Conv_0"]["kernel"], dtype=np.float64))
    # fan_in of an HWIO kernel is 3 * 3 * 64 = 576; normal samples' variance has relative
    # standard error sqrt(2 / n).
    n, target = kernel.size, 2 / 576
    assert abs(kernel.var() / target - 1) < 4.3 * math.sqrt(2 / n)


# --------------------------------------------------------------------------- Keras


@pytest.fixture
def keras():  # type: ignore[no-untyped-def]
    return pytest.importorskip("keras")


def _numpy(keras, variable) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(keras.ops.convert_to_numpy(variable.value))


def test_keras_layers_get_name_keyed_values(keras) -> None:
    from weightinit.keras import KerasInitializer

    dense = keras.layers.Dense(
        32, kernel_initializer=KerasInitializer("he_normal", seed=3, name="fc")
    )
    dense.build((None, 20))
    key = wi.Key.from_seed(3).fold_in("fc")
    assert np.array_equal(_numpy(keras, dense.kernel), wi.he_normal()((20, 32), seed=key))
    depthwise = keras.layers.DepthwiseConv2D(
        3, depth_multiplier=2,
        depthwise_initializer=KerasInitializer("he_uniform", seed=3, layout="keras_depthwise"),
    )  # fmt: skip
    depthwise.build((None, 8, 8, 4))
    # Without a name, a layer's weight is keyed by its variable path.
    path_key = wi.Key.from_seed(3).fold_in(depthwise.kernel.path)
    expected = wi.he_uniform()((3, 3, 4, 2), seed=path_key, layout="keras_depthwise")
    assert np.array_equal(_numpy(keras, depthwise.kernel), expected)
    unseeded = KerasInitializer(wi.normal(1.0))
    a, b = (np.asarray(keras.ops.convert_to_numpy(unseeded((4, 4)))) for _ in range(2))
    assert not np.array_equal(a, b)


# Keras' own saving code converts variables with np.array(..., copy=False), which NumPy 2
# deprecates; the warning is Keras', not this package's.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_config_and_saved_models_round_trip(keras, tmp_path) -> None:
    from weightinit.keras import KerasInitializer

    init = KerasInitializer(wi.orthogonal(gain=2.0), seed=1, name="dense")
    again = KerasInitializer.from_config(init.get_config())
    assert again.get_config() == init.get_config()
    assert again.init == wi.orthogonal(gain=2.0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, kernel_initializer=init)])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert np.array_equal(
        _numpy(keras, loaded.layers[0].kernel), _numpy(keras, model.layers[0].kernel)
    )
    config = loaded.layers[0].get_config()["kernel_initializer"]
    assert config["config"]["init"] == {"name": "orthogonal", "gain": 2.0}
    with pytest.raises(ValueError, match="layout must be one of"):
        KerasInitializer("he_normal", layout="sideways")


def test_haiku_initializer_uses_haikus_key(jax) -> None:
    hk = pytest.importorskip("haiku")
    from weightinit.jax import haiku_initializer
    from weightinit.jax import initializer

    def forward(x):  # type: ignore[no-untyped-def]
        return hk.Linear(8, w_init=haiku_initializer(wi.he_normal()))(x)

    transformed = hk.transform(forward)
    params = transformed.init(jax.random.key(0), jax.numpy.ones((1, 4)))
    w = params["linear"]["w"]
    assert w.shape == (4, 8)
    again = transformed.init(jax.random.key(0), jax.numpy.ones((1, 4)))["linear"]["w"]
    assert bool((w == again).all())

    def keyed(x):  # type: ignore[no-untyped-def]
        return initializer(wi.he_normal())(hk.next_rng_key(), (4, 8))

    expected = hk.transform(keyed).apply({}, jax.random.key(0), None)
    assert bool((w == expected).all())


def test_jax_vmap_and_x64(jax) -> None:
    from weightinit.jax import initializer
    from weightinit.jax import seed_from_key

    make = initializer(wi.he_normal())
    keys = jax.random.split(jax.random.key(3), 3)
    stacked = jax.vmap(lambda k: make(k, (5, 7)))(keys)
    for i in range(3):
        expected = wi.he_normal()((5, 7), seed=seed_from_key(keys[i]))
        assert np.asarray(stacked[i]).tobytes() == expected.tobytes()
    # float64 without x64 is float32, as for JAX's own initializers.
    assert make(keys[0], (5, 7), jax.numpy.float64).dtype == jax.numpy.float32


def test_keras_blocks_make_gates_orthogonal(keras) -> None:
    from weightinit.keras import KerasInitializer

    with pytest.warns(DeprecationWarning, match="now KerasInitializer"):
        from weightinit.keras import Initializer  # the former name
    assert Initializer is KerasInitializer

    init = KerasInitializer(wi.orthogonal(), seed=0, blocks=4)
    kernel = np.asarray(keras.ops.convert_to_numpy(init((16, 64))))  # (H, 4 H), in_out
    for gate in np.split(kernel, 4, axis=1):
        np.testing.assert_allclose(gate.T @ gate, np.eye(16), atol=1e-5)
    assert KerasInitializer.from_config(init.get_config()).get_config()["blocks"] == 4


_SHARDING_SCRIPT = r"""
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import weightinit as wi
from weightinit import jax as wjax

asked = []
kind = wi.he_normal().__class__
original = kind._make

def recording(self, weight, dtype, seed, threads, region=None):
    asked.append(region)
    return original(self, weight, dtype, seed, threads, region)

kind._make = recording
shape = (96, 60)
whole = wi.he_normal()(shape, seed=7)
asked.clear()
devices = np.array(jax.devices())
cases = [
    ((4,), ("a",), P("a")),
    ((4,), ("a",), P(None, "a")),
    ((2, 2), ("a", "b"), P("a", "b")),
    ((2, 4), ("a", "b"), P("b", "a")),
    ((2, 4), ("a", "b"), P("a")),
]
for mesh_shape, names, spec in cases:
    mesh = Mesh(devices[: int(np.prod(mesh_shape))].reshape(mesh_shape), names)
    sharding = NamedSharding(mesh, spec)
    asked.clear()
    array = wjax.make_array(wi.he_normal(), shape, sharding, seed=7)
    assert array.sharding == sharding
    assert np.asarray(array).tobytes() == whole.tobytes(), (mesh_shape, spec)
    expected = [tuple(i) for i in sharding.devices_indices_map(shape).values()]
    assert sorted(map(str, asked)) == sorted(map(str, expected)), (asked, expected)
    for shard in array.addressable_shards:
        assert np.asarray(shard.data).tobytes() == whole[shard.index].tobytes()
print("ok", len(cases))
"""


def test_sharded_arrays_equal_the_whole_on_simulated_devices(jax, tmp_path) -> None:
    import subprocess
    import sys

    script = tmp_path / "sharding.py"
    script.write_text(_SHARDING_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok 5"
