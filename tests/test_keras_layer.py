"""weightinit.keras.KerasInitializer in Keras' own layers (skips where Keras is absent).

Run under each installed backend: ``KERAS_BACKEND=torch pytest tests/test_keras_layer.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import weightinit as wi

if "KERAS_BACKEND" not in os.environ:  # Keras needs a backend that is installed
    for _backend in ("jax", "torch"):
        if importlib.util.find_spec(_backend):
            os.environ["KERAS_BACKEND"] = _backend
            break

keras = pytest.importorskip("keras")

from weightinit.keras import KerasInitializer  # noqa: E402

# Keras' torch backend converts tensors with np.array(tensor), for which torch's __array__
# warns under NumPy 2; the warning is Keras', not this package's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

# Keras' own saving code converts variables with np.array(..., copy=False), which NumPy 2
# deprecates; the warning is Keras', not this package's.
saving = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _numpy(variable) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(keras.ops.convert_to_numpy(variable.value))


def _attention(init: KerasInitializer, name: str = "attn"):  # type: ignore[no-untyped-def]
    layer = keras.layers.MultiHeadAttention(2, 4, kernel_initializer=init, name=name)
    x = keras.ops.ones((1, 3, 8))
    layer(x, x)
    return layer


def _qkv(layer) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    dense = (layer._query_dense, layer._key_dense, layer._value_dense)
    return [_numpy(d.kernel) for d in dense]


def _distinct(*arrays: np.ndarray) -> bool:
    return all(not np.array_equal(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1 :])


# --------------------------------------------------------------------------- keys


def test_keras_copies_of_a_seeded_initializer_differ_by_variable_path() -> None:
    init = KerasInitializer(wi.glorot_uniform(), seed=0)
    attention = _attention(init)
    q, k, v = _qkv(attention)
    assert _distinct(q, k, v)
    path = attention._query_dense.kernel.path
    assert path == "attn/query/kernel"
    key = wi.Key.from_seed(0).fold_in(path)
    assert np.array_equal(q, wi.glorot_uniform()(q.shape, seed=key))
    # Rebuilt with the same names and seed: the same values.
    again = _attention(KerasInitializer(wi.glorot_uniform(), seed=0))
    assert all(np.array_equal(a, b) for a, b in zip(_qkv(again), (q, k, v), strict=True))

    lstm = keras.layers.LSTM(
        8, kernel_initializer=KerasInitializer("orthogonal", seed=1),
        recurrent_initializer=KerasInitializer("orthogonal", seed=1),
    )  # fmt: skip
    both = keras.layers.Bidirectional(lstm)
    both.build((None, 5, 8))  # input size = units: kernel and recurrent kernel of one shape
    forward, backward = both.forward_layer.cell, both.backward_layer.cell
    kernels = [_numpy(forward.kernel), _numpy(forward.recurrent_kernel)]
    kernels += [_numpy(backward.kernel), _numpy(backward.recurrent_kernel)]
    assert _distinct(*kernels)


def test_keras_name_keys_a_seeded_initializer_as_initialize_does() -> None:
    dense = keras.layers.Dense(6, kernel_initializer=KerasInitializer("he_normal", 2, name="fc"))
    dense.build((None, 5))
    key = wi.Key.from_seed(2).fold_in("fc")
    assert np.array_equal(_numpy(dense.kernel), wi.he_normal()((5, 6), seed=key))


def test_keras_unseeded_initializers_follow_keras_set_random_seed() -> None:
    keras.utils.set_random_seed(11)
    first = _qkv(_attention(KerasInitializer(wi.glorot_uniform()), name="a"))
    keras.utils.set_random_seed(11)
    second = _qkv(_attention(KerasInitializer(wi.glorot_uniform()), name="b"))
    assert _distinct(*first)  # Keras' copies draw their own seeds
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    keras.utils.set_random_seed(12)
    other = _qkv(_attention(KerasInitializer(wi.glorot_uniform()), name="a"))
    assert not np.array_equal(other[0], first[0])
    # Called directly, an unseeded initializer gives fresh values on every call.
    init = KerasInitializer(wi.normal(1.0))
    a, b = (keras.ops.convert_to_numpy(init((4, 4))) for _ in range(2))
    assert not np.array_equal(a, b)


def test_keras_direct_calls_of_one_seeded_initializer_warn_once() -> None:
    init = KerasInitializer(wi.he_normal(), seed=4)
    first = keras.ops.convert_to_numpy(init((3, 5)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init((5, 3))  # another shape: nothing repeats
        KerasInitializer(wi.he_normal(), seed=4, name="w")((3, 5))
    with pytest.warns(UserWarning, match=r"second weight of shape \(3, 5\).*same values"):
        second = keras.ops.convert_to_numpy(init((3, 5)))
    assert np.array_equal(first, second)
    assert np.array_equal(first, wi.he_normal()((3, 5), seed=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init((3, 5))  # once only


def test_keras_seed_generators_give_fresh_reproducible_values() -> None:
    def make() -> list[np.ndarray]:
        init = KerasInitializer(wi.he_normal(), seed=keras.random.SeedGenerator(5))
        return [keras.ops.convert_to_numpy(init((4, 6))) for _ in range(2)]

    first, second = make(), make()
    assert _distinct(*first)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    init = KerasInitializer(wi.he_normal(), seed=keras.random.SeedGenerator(5))
    again = KerasInitializer.from_config(init.get_config())
    assert isinstance(again.seed, keras.random.SeedGenerator)
    assert np.array_equal(keras.ops.convert_to_numpy(again((4, 6))), first[0])
    with pytest.raises(TypeError, match=r"keras\.random\.SeedGenerator.*got 'zero'"):
        KerasInitializer(wi.he_normal(), seed="zero")


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "bool", "complex64"])
def test_keras_non_float_dtypes_are_refused_by_name(dtype: str) -> None:
    if dtype == "complex64" and keras.backend.backend() == "torch":
        pytest.importorskip("torch")
    with pytest.raises(TypeError, match=f"float16, bfloat16, float32, float64; got '{dtype}'"):
        KerasInitializer(wi.he_normal(), seed=0)((4, 4), dtype)


def test_keras_float_dtypes_are_the_float32_values_cast() -> None:
    init = KerasInitializer(wi.he_normal(), seed=0)
    base = wi.he_normal()((4, 4), seed=0)
    for dtype in ("float16", "bfloat16", "float32"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # one seed, several direct calls
            made = init((4, 4), dtype)
        assert keras.backend.standardize_dtype(made.dtype) == dtype
        expected = keras.ops.cast(keras.ops.convert_to_tensor(base), dtype)
        assert np.array_equal(
            keras.ops.convert_to_numpy(keras.ops.cast(made, "float32")),
            keras.ops.convert_to_numpy(keras.ops.cast(expected, "float32")),
        )


# --------------------------------------------------------------------------- identifiers


@saving
def test_keras_string_identifiers_name_every_weightinit_initializer(tmp_path: Path) -> None:
    dense = keras.layers.Dense(8, kernel_initializer="weightinit>he_normal")
    assert isinstance(dense.kernel_initializer, KerasInitializer)
    assert dense.kernel_initializer.init == wi.he_normal()
    for name in wi.names(aliases=True):
        try:
            expected = wi.get(name)
        except TypeError as error:  # a factory with a required parameter
            with pytest.raises(ValueError, match=re.escape(str(error))):
                keras.initializers.get(f"weightinit>{name}")
            continue
        made = keras.initializers.get(f"weightinit>{name}")
        assert isinstance(made, KerasInitializer), name
        assert made.init == expected, name
    configured = keras.initializers.get(
        {"class_name": "weightinit>truncated_normal", "config": {"stddev": 0.02, "seed": 3}}
    )
    assert configured.init == wi.truncated_normal(stddev=0.02)
    assert configured.seed == 3

    model = keras.Sequential([keras.Input((4,)), dense], name="net")
    path = tmp_path / "strings.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert np.array_equal(_numpy(loaded.layers[0].kernel), _numpy(dense.kernel))
    assert loaded.layers[0].kernel_initializer.init == wi.he_normal()


@saving
def test_keras_key_seeds_survive_a_saved_model(tmp_path: Path) -> None:
    key = wi.Key.from_seed(9).fold_in("encoder")
    init = KerasInitializer(wi.orthogonal(), seed=key)
    again = KerasInitializer.from_config(init.get_config())
    assert again.seed == key
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(4, kernel_initializer=init, name="fc")],
        name="keyed",
    )
    expected = wi.orthogonal()((6, 4), seed=key.fold_in("keyed/fc/kernel"))
    assert np.array_equal(_numpy(model.layers[0].kernel), expected)
    path = tmp_path / "keyed.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[0].kernel_initializer.seed == key
    assert np.array_equal(_numpy(loaded.layers[0].kernel), expected)


def test_keras_configs_saved_under_the_former_name_load() -> None:
    config = {
        "module": "weightinit.keras",
        "class_name": "KerasInitializer",
        "config": {
            "init": {"name": "orthogonal", "gain": 2.0},
            "seed": 1, "layout": "in_out", "name": "dense", "groups": 1, "blocks": 1,
        },
        "registered_name": "weightinit>Initializer",
    }  # fmt: skip
    init = keras.initializers.deserialize(config)
    assert isinstance(init, KerasInitializer)
    assert init.init == wi.orthogonal(gain=2.0)
    assert (init.layout, init.name, init.blocks) == ("in_out", "dense", 1)
    saved = keras.saving.serialize_keras_object(init)
    assert saved["module"] == "weightinit.keras"
    assert saved["registered_name"] == "weightinit>KerasInitializer"


_LOAD_SCRIPT = r"""
import sys
import keras
if sys.argv[2] == "import":
    import weightinit.keras
model = keras.models.load_model(sys.argv[1])
print(type(model.layers[0].kernel_initializer).__module__)
"""


@saving
def test_keras_loading_without_weightinit_keras_names_it(tmp_path: Path) -> None:
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, kernel_initializer="weightinit>lecun_normal")]
    )
    path = tmp_path / "needs_weightinit.keras"
    model.save(path)
    script = tmp_path / "load.py"
    script.write_text(_LOAD_SCRIPT)

    def load(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-W", "ignore", str(script), str(path), mode],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    # Keras imports only its own packages when it loads a model, so it cannot find the class
    # by itself; its error shows the saved module, the one to import.
    failed = load("plain")
    assert failed.returncode != 0
    assert "'module': 'weightinit.keras'," in failed.stderr.strip().splitlines()[-1]
    loaded = load("import")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "weightinit.keras"


# --------------------------------------------------------------------------- axes from the layer


def test_keras_lstm_and_gru_kernels_are_gate_blocks() -> None:
    for layer, gates in ((keras.layers.LSTM, 4), (keras.layers.GRU, 3)):
        rnn = layer(
            8, kernel_initializer=KerasInitializer("orthogonal", seed=0),
            recurrent_initializer=KerasInitializer("orthogonal", seed=0),
        )  # fmt: skip
        rnn.build((None, 5, 8))
        for variable in (rnn.cell.kernel, rnn.cell.recurrent_kernel):
            kernel = _numpy(variable)
            assert kernel.shape == (8, gates * 8)
            for gate in np.split(kernel, gates, axis=1):
                np.testing.assert_allclose(gate.T @ gate, np.eye(8), atol=1e-5)
            key = wi.Key.from_seed(0).fold_in(variable.path)
            expected = wi.orthogonal()(kernel.shape, seed=key, blocks=gates)
            assert np.array_equal(kernel, expected)
    # A stated blocks wins.
    rnn = keras.layers.LSTM(8, recurrent_initializer=KerasInitializer("orthogonal", 0, blocks=1))
    rnn.build((None, 5, 8))
    whole = _numpy(rnn.cell.recurrent_kernel)
    np.testing.assert_allclose(whole @ whole.T, np.eye(8), atol=1e-5)
    assert not np.allclose(whole[:, :8].T @ whole[:, :8], np.eye(8), atol=1e-3)


def test_keras_depthwise_and_grouped_kernels_get_their_layout() -> None:
    depthwise = keras.layers.DepthwiseConv2D(
        3, depth_multiplier=2, depthwise_initializer=KerasInitializer("he_uniform", seed=3)
    )
    depthwise.build((None, 8, 8, 4))
    key = wi.Key.from_seed(3).fold_in(depthwise.kernel.path)
    expected = wi.he_uniform()((3, 3, 4, 2), seed=key, layout="keras_depthwise")
    assert np.array_equal(_numpy(depthwise.kernel), expected)

    separable = keras.layers.SeparableConv2D(
        5, 3, depth_multiplier=2,
        depthwise_initializer=KerasInitializer("glorot_uniform", seed=3),
        pointwise_initializer=KerasInitializer("glorot_uniform", seed=3),
    )  # fmt: skip
    separable.build((None, 8, 8, 4))
    key = wi.Key.from_seed(3).fold_in(separable.depthwise_kernel.path)
    expected = wi.glorot_uniform()((3, 3, 4, 2), seed=key, layout="keras_depthwise")
    assert np.array_equal(_numpy(separable.depthwise_kernel), expected)
    key = wi.Key.from_seed(3).fold_in(separable.pointwise_kernel.path)
    expected = wi.glorot_uniform()((1, 1, 8, 5), seed=key)
    assert np.array_equal(_numpy(separable.pointwise_kernel), expected)

    grouped = keras.layers.Conv2D(
        8, 3, groups=2, kernel_initializer=KerasInitializer("glorot_uniform", seed=3)
    )
    grouped.build((None, 8, 8, 6))
    kernel = _numpy(grouped.kernel)
    key = wi.Key.from_seed(3).fold_in(grouped.kernel.path)
    assert kernel.shape == (3, 3, 3, 8)
    assert np.array_equal(kernel, wi.glorot_uniform()(kernel.shape, seed=key, groups=2))
    assert not np.array_equal(kernel, wi.glorot_uniform()(kernel.shape, seed=key))

    stated = keras.layers.DepthwiseConv2D(
        3, depthwise_initializer=KerasInitializer("he_uniform", seed=3, layout="in_out")
    )
    stated.build((None, 8, 8, 4))
    key = wi.Key.from_seed(3).fold_in(stated.kernel.path)
    assert np.array_equal(_numpy(stated.kernel), wi.he_uniform()((3, 3, 4, 1), seed=key))


def test_keras_options_are_checked_where_they_are_written() -> None:
    misspelt = r"layout must be one of .*got 'keras_depthwse'\. Did you mean 'keras_depthwise'\?"
    with pytest.raises(ValueError, match=misspelt):
        KerasInitializer("he_normal", layout="keras_depthwse")
    with pytest.raises(ValueError, match="blocks must be >= 1; got 0"):
        KerasInitializer("he_normal", blocks=0)
    with pytest.raises(TypeError, match="name must be a str or None; got 3"):
        KerasInitializer("he_normal", name=3)  # type: ignore[arg-type]


@saving
def test_keras_attention_kernels_take_explicit_axes(tmp_path: Path) -> None:
    embed, heads, head_dim = 64, 8, 32
    init = KerasInitializer(wi.lecun_normal(), seed=5, in_axis=0, out_axis=(1, 2))
    layer = keras.layers.MultiHeadAttention(heads, head_dim, kernel_initializer=init, name="mha")
    x = keras.ops.ones((1, 3, embed))
    layer(x, x)
    query = {w.path: w for w in layer.weights}["mha/query/kernel"]
    kernel = _numpy(query).astype(np.float64)
    assert kernel.shape == (embed, heads, head_dim)
    # fan_in = embed; a normal sample's std has relative standard error 1 / sqrt(2 n).
    n, target = kernel.size, 1 / np.sqrt(embed)
    assert abs(kernel.std() / target - 1) < 4.3 / np.sqrt(2 * n)
    key = wi.Key.from_seed(5).fold_in("mha/query/kernel")
    expected = wi.lecun_normal()(kernel.shape, seed=key, in_axis=0, out_axis=(1, 2))
    assert np.array_equal(_numpy(query), expected)
    again = KerasInitializer.from_config(init.get_config())
    assert again.get_config() == init.get_config()
    assert again.get_config()["out_axis"] == [1, 2]


def test_keras_transposed_convolutions_read_their_kernels() -> None:
    in_channels, out_channels = 6, 4
    for layout in ("keras_transposed", None):
        init = KerasInitializer(wi.he_normal(), seed=1, layout=layout)
        layer = keras.layers.Conv2DTranspose(out_channels, 3, kernel_initializer=init)
        layer.build((None, 8, 8, in_channels))
        kernel = _numpy(layer.kernel)
        assert kernel.shape == (3, 3, out_channels, in_channels)
        assert wi.fans(kernel.shape, layout="keras_transposed").fan_in == in_channels * 9
        key = wi.Key.from_seed(1).fold_in(layer.kernel.path)
        expected = wi.he_normal()(kernel.shape, seed=key, layout="keras_transposed")
        assert np.array_equal(kernel, expected)
        assert not np.array_equal(kernel, wi.he_normal()(kernel.shape, seed=key))
