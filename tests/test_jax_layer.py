"""weightinit.jax's per-layer initializer: compiling, seeds, dtypes, signature, sharding, export."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import numpy as np
import pytest

import weightinit as wi

jax = pytest.importorskip("jax")

from weightinit.jax import ExportError  # noqa: E402
from weightinit.jax import haiku_initializer  # noqa: E402
from weightinit.jax import initializer  # noqa: E402
from weightinit.jax import seed_from_key  # noqa: E402

_COMPILES: list[str] = []
_COUNTING = [False]


def _listen(event: str, duration: float, **kwargs: object) -> None:
    if _COUNTING[0] and event.endswith("backend_compile_duration"):
        _COMPILES.append(event)


jax.monitoring.register_event_duration_secs_listener(_listen)


def _compiles(call) -> int:  # type: ignore[no-untyped-def]
    """How many XLA compilations ``call()`` set off."""
    _COMPILES.clear()
    _COUNTING[0] = True
    try:
        call()
    finally:
        _COUNTING[0] = False
    return len(_COMPILES)


def test_eager_calls_compile_nothing_and_equal_the_traced_values() -> None:
    make = initializer(wi.he_normal())
    keys = [jax.random.key(i) for i in range(4)] + [jax.random.PRNGKey(9)]
    make(keys[0], (3, 5))  # the first call compiles JAX's own key_data, once
    made: list[object] = []
    assert _compiles(lambda: made.extend(make(k, (64, 32 + i)) for i, k in enumerate(keys))) == 0
    jitted = jax.jit(make, static_argnums=(1, 2))
    for dtype in (jax.numpy.float32, jax.numpy.bfloat16, jax.numpy.float16):
        for i, key in enumerate(keys):
            eager = make(key, (64, 32 + i), dtype)
            assert eager.dtype == dtype
            traced = jitted(key, (64, 32 + i), dtype)
            assert np.asarray(eager).tobytes() == np.asarray(traced).tobytes()
    assert (
        np.asarray(made[0]).tobytes()
        == wi.he_normal()((64, 32), seed=seed_from_key(keys[0])).tobytes()
    )


def test_traced_calls_reuse_one_host_function() -> None:
    make = initializer(wi.glorot_uniform())

    def host_function(jaxpr) -> object:  # type: ignore[no-untyped-def]
        (eqn,) = [e for e in jaxpr.eqns if e.primitive.name == "weightinit_values"]
        return eqn.params["fn"]

    first = jax.make_jaxpr(lambda k: make(k, (16, 8)))(jax.random.key(0)).jaxpr
    again = jax.make_jaxpr(lambda k: make(k, (16, 8)))(jax.random.key(1)).jaxpr
    assert host_function(first) is host_function(again)
    other = jax.make_jaxpr(lambda k: make(k, (16, 9)))(jax.random.key(1)).jaxpr
    assert host_function(other) is not host_function(first)


def test_a_seed_and_a_name_give_the_values_of_initialize_in_flax_and_haiku() -> None:
    linen = pytest.importorskip("flax.linen")
    hk = pytest.importorskip("haiku")
    expected = wi.initialize(
        {"Dense_0/kernel": (wi.lecun_normal(), (6, 4)), "linear/w": (wi.he_uniform(), (6, 3))},
        seed=5,
    )
    init = initializer(wi.lecun_normal(), seed=5, name="Dense_0/kernel")
    x = jax.numpy.ones((1, 6))
    dense = linen.Dense(4, kernel_init=init)
    for key in (jax.random.key(0), jax.random.key(1)):  # the JAX key is ignored
        eager = dense.init(key, x)["params"]["kernel"]
        jitted = jax.jit(dense.init)(key, x)["params"]["kernel"]
        assert np.asarray(eager).tobytes() == expected["Dense_0/kernel"].tobytes()
        assert np.asarray(jitted).tobytes() == expected["Dense_0/kernel"].tobytes()
    stacked = jax.vmap(lambda k: init(k, (6, 4)))(jax.random.split(jax.random.key(0), 2))
    assert np.array_equal(np.asarray(stacked[1]), expected["Dense_0/kernel"])

    w_init = haiku_initializer(wi.he_uniform(), seed=5, name="linear/w")
    forward = hk.transform(lambda x: hk.Linear(3, w_init=w_init)(x))
    for params in (forward.init(jax.random.key(3), x), jax.jit(forward.init)(jax.random.key(3), x)):
        assert np.asarray(params["linear"]["w"]).tobytes() == expected["linear/w"].tobytes()
    unnamed = initializer(wi.he_normal(), seed=5)(None, (6, 3))
    assert np.array_equal(np.asarray(unnamed), wi.he_normal()((6, 3), seed=5))
    with pytest.raises(ValueError, match=r"name='fc' needs a seed"):
        initializer(wi.he_normal(), name="fc")
    with pytest.raises(TypeError, match=r"name must be a str, an int or None; got 1\.5"):
        initializer(wi.he_normal(), seed=0, name=1.5)  # type: ignore[arg-type]


@pytest.fixture
def x64():  # type: ignore[no-untyped-def]
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


def test_dtypes_are_jaxs() -> None:
    make = initializer(wi.he_normal())
    key = jax.random.key(2)
    assert make(key, (4, 3)).dtype == jax.numpy.float32
    assert make(key, (4, 3), jax.numpy.float64).dtype == jax.numpy.float32  # as JAX's own
    for dtype in (jax.numpy.int32, jax.numpy.uint8, bool):
        with pytest.raises(TypeError, match=r"dtype must be float16, bfloat16, float32 or float64"):
            make(key, (4, 3), dtype)
    with pytest.raises(TypeError, match=r"got complex64\. weightinit draws real values"):
        make(key, (4, 3), jax.numpy.complex64)
    with pytest.raises(TypeError, match="got int32"):
        jax.jit(make, static_argnums=(1, 2))(key, (4, 3), jax.numpy.int32)


def test_the_default_dtype_is_float64_under_x64(x64) -> None:  # type: ignore[no-untyped-def]
    make = initializer(wi.he_normal())
    key = jax.random.key(2)
    wide = make(key, (4, 3))
    assert wide.dtype == jax.numpy.float64
    expected = wi.he_normal()((4, 3), np.float64, seed=seed_from_key(key))
    assert np.asarray(wide).tobytes() == expected.tobytes()
    traced = jax.jit(make, static_argnums=1)(key, (4, 3))
    assert traced.dtype == jax.numpy.float64
    assert np.asarray(traced).tobytes() == expected.tobytes()
    assert jax.nn.initializers.he_normal()(key, (4, 3)).dtype == jax.numpy.float64


def test_signature_repr_name_hash_and_pickle_are_like_jaxs_own() -> None:
    linen = pytest.importorskip("flax.linen")
    make = initializer(wi.he_normal(), layout="out_in", blocks=2)
    ours = list(inspect.signature(make).parameters)
    theirs = list(inspect.signature(jax.nn.initializers.he_normal()).parameters)
    assert ours == theirs == ["key", "shape", "dtype", "out_sharding"]
    assert repr(make) == "weightinit.jax.initializer(he_normal(), layout='out_in', blocks=2)"
    assert repr(initializer(wi.he_normal())) == "weightinit.jax.initializer(he_normal())"
    assert (
        make.__name__ == make.__qualname__ == "initializer(he_normal(), layout='out_in', blocks=2)"
    )
    assert "kernel_init = initializer(lecun_normal())" in repr(
        linen.Dense(3, kernel_init=initializer(wi.lecun_normal()))
    )
    assert repr(haiku_initializer("he_uniform", seed=0, name="w")) == (
        "weightinit.jax.haiku_initializer(he_uniform(), seed=0, name='w')"
    )
    again = pickle.loads(pickle.dumps(make))
    assert again == make and hash(again) == hash(make)
    assert again != initializer(wi.he_normal(), layout="out_in")
    key = jax.random.key(0)
    assert np.array_equal(np.asarray(again(key, (8, 6))), np.asarray(make(key, (8, 6))))


def test_out_sharding_places_the_values() -> None:
    make = initializer(wi.he_normal())
    key = jax.random.key(4)
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("rows",))
    rows = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("rows"))
    expected = np.asarray(make(key, (32, 16)))
    eager = make(key, (32, 16), out_sharding=rows)
    traced = jax.jit(lambda k: make(k, (32, 16), out_sharding=rows))(key)
    for array in (eager, traced):
        assert array.sharding.is_equivalent_to(rows, 2)
        assert np.asarray(array).tobytes() == expected.tobytes()


def test_export_says_to_initialize_outside() -> None:
    make = initializer(wi.he_normal())
    exported = jax.jit(lambda k: make(k, (4, 3)))
    with pytest.raises(ExportError, match="Initialize outside the exported function"):
        jax.export.export(exported)(jax.random.key(0))
    # The function without the initializer exports.
    params = make(jax.random.key(0), (4, 3))
    apply = jax.export.export(jax.jit(lambda w, x: x @ w))(params, jax.numpy.ones((2, 4)))
    assert apply.out_avals[0].shape == (2, 3)


_JIT_SHARDING_SCRIPT = r"""
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import weightinit as wi
from weightinit.jax import initializer, seed_from_key

asked = []
kind = wi.he_normal().__class__
original = kind._make

def recording(self, weight, dtype, seed, threads, region=None):
    asked.append(region)
    return original(self, weight, dtype, seed, threads, region)

kind._make = recording
make = initializer(wi.he_normal())
key = jax.random.key(7)
shape = (64, 32)
whole = wi.he_normal()(shape, seed=seed_from_key(key))
devices = np.array(jax.devices())
for mesh_shape, names, spec in [((4,), ("a",), P("a")), ((2, 2), ("a", "b"), P("b", "a"))]:
    sharding = NamedSharding(Mesh(devices.reshape(mesh_shape), names), spec)
    # Given the sharding, each device makes only its own region.
    asked.clear()
    array = jax.jit(lambda k: make(k, shape, out_sharding=sharding))(key)
    array.block_until_ready()
    assert array.sharding == sharding
    assert np.asarray(array).tobytes() == whole.tobytes()
    expected = [tuple(i) for i in sharding.devices_indices_map(shape).values()]
    made = [tuple(slice(r.start, r.stop) for r in region) for region in asked]
    def norm(regions):
        return sorted(str([s.indices(d)[:2] for s, d in zip(r, shape)]) for r in regions)
    assert norm(made) == norm(expected), (made, expected)
    # Through jit's out_shardings alone, the whole array is made once, then split.
    asked.clear()
    array = jax.jit(lambda k: make(k, shape), out_shardings=sharding)(key)
    array.block_until_ready()
    assert np.asarray(array).tobytes() == whole.tobytes()
    assert asked == [None], asked
print("ok")
"""


def test_under_jit_each_device_makes_its_own_region_when_given_the_sharding(tmp_path) -> None:
    script = tmp_path / "jit_sharding.py"
    script.write_text(_JIT_SHARDING_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"


def test_explicit_axes_give_jaxs_fans_for_a_dense_general_kernel() -> None:
    shape = (48, 4, 16)  # DenseGeneral: embed -> (heads, head_dim)
    key = jax.random.key(0)
    for mode, variance in (("fan_in", 1 / 48), ("fan_out", 1 / 64), ("fan_avg", 2 / (48 + 64))):
        ours = initializer(wi.variance_scaling(1.0, mode, "normal"), in_axis=0, out_axis=(1, 2))
        # JAX's draws, many kernels at once along a batch axis it ignores.
        theirs = jax.nn.initializers.variance_scaling(
            1.0, mode, "normal", in_axis=1, out_axis=(2, 3), batch_axis=0
        )
        made = np.asarray(ours(key, shape), np.float64)
        expected = wi.variance_scaling(1.0, mode, "normal")(
            shape, seed=seed_from_key(key), in_axis=0, out_axis=(1, 2)
        )
        assert made.tobytes() == expected.astype(np.float64).tobytes()
        # The relative standard error of a normal sample's variance is sqrt(2 / n).
        draws = np.asarray(theirs(key, (64, *shape)), np.float64)
        assert abs(draws.var() / variance - 1) < 5 * np.sqrt(2 / draws.size)
        assert abs(made.var() / variance - 1) < 5 * np.sqrt(2 / made.size)
        assert ours.__name__.endswith("in_axis=0, out_axis=(1, 2))")
    from jax._src.nn.initializers import _compute_fans

    fans = wi.fans(shape, in_axis=0, out_axis=(1, 2))
    assert (fans.fan_in, fans.fan_out) == tuple(_compute_fans(shape, 0, (1, 2), ()))
    haiku_made = haiku_initializer(wi.he_normal(), seed=0, in_axis=0, out_axis=[1, 2])
    assert repr(haiku_made).endswith("he_normal(), in_axis=0, out_axis=(1, 2), seed=0)")
    assert pickle.loads(pickle.dumps(ours)) == ours
    with pytest.raises(ValueError, match="in_axis"):
        initializer(wi.he_normal(), in_axis=0, out_axis=0)(key, shape)
