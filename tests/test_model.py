"""Whole models: Key.fold_in, Param and initialize (entries equal single calls, keyed by name)."""

from __future__ import annotations

import sys
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import weightinit as wi
from weightinit._engine import kernels

# --------------------------------------------------------------------------- fold_in


def test_fold_in_is_pinned() -> None:
    # The hashing is documented (SHA-256 of a domain tag, the parent's words, a type tag and
    # the name); these words pin it, so a change of the derivation cannot pass unnoticed.
    root = wi.Key((1, 2, 3, 4))
    assert root.fold_in("fc1.weight").words == root.fold_in("fc1.weight").words
    import hashlib
    import struct

    data = b"weightinit.fold_in\0" + struct.pack("<4Q", 1, 2, 3, 4) + b"s" + b"fc1.weight"
    assert root.fold_in("fc1.weight").words == struct.unpack("<4Q", hashlib.sha256(data).digest())
    data = b"weightinit.fold_in\0" + struct.pack("<4Q", 1, 2, 3, 4) + b"i" + b"-12"
    assert root.fold_in(-12).words == struct.unpack("<4Q", hashlib.sha256(data).digest())
    assert wi.Key.from_seed(0).fold_in("a").words == (
        14772528969678387288,
        10555737615144893266,
        13714170396940962581,
        12727841270956006761,
    )


def test_fold_in_chains_and_separates_names() -> None:
    root = wi.Key.from_seed(3)
    assert root.fold_in("encoder").fold_in(3) == root.fold_in("encoder").fold_in(3)
    children = {root.fold_in(n) for n in ("a", "b", "3", 3, np.int64(4), "é", "")}
    assert len(children) == 7
    assert root.fold_in(np.int64(4)) == root.fold_in(4)
    assert root.fold_in("a") != wi.Key.from_seed(4).fold_in("a")
    assert root.fold_in("a").fold_in("b") != root.fold_in("b").fold_in("a")


@pytest.mark.parametrize("name", [1.5, True, None, b"x", ("a",)])
def test_fold_in_rejects_other_names(name: object) -> None:
    with pytest.raises(TypeError, match="fold_in takes a str or an int name; got"):
        wi.Key.from_seed(0).fold_in(name)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Param


def test_param_normalises_its_fields() -> None:
    p = wi.Param("kaiming_normal", [64, 32, 3, 3], layout="PyTorch", groups=2, dtype="float64")
    assert p.initializer == wi.he_normal()
    assert p.shape == (64, 32, 3, 3)
    assert p.layout == "out_in"
    assert p.groups == 2
    assert p.dtype == np.dtype(np.float64)
    assert p == wi.Param(
        wi.he_normal(), (64, 32, 3, 3), layout="out_in", groups=2, dtype=np.float64
    )


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: wi.Param("he_nromal", (3, 3)), ValueError, "The closest are 'he_normal'"),
        (lambda: wi.Param(wi.zeros(), (3, -1)), ValueError, "non-negative"),
        (lambda: wi.Param(wi.zeros(), (3,), layout="nchw_x"), ValueError, "layout must be"),
        (lambda: wi.Param(wi.zeros(), (3,), groups=0), ValueError, "groups must be >= 1"),
        (lambda: wi.Param(wi.zeros(), (3,), dtype="int32"), TypeError, "dtype must be one of"),
        (lambda: wi.Param(wi.zeros(), (3,), "in_out"), TypeError, "positional"),
    ],
)
def test_param_rejects_bad_fields(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


# --------------------------------------------------------------------------- initialize

MODEL: dict[str, Any] = {
    "conv.weight": wi.Param(wi.he_normal(mode="fan_out"), (16, 8, 3, 3), layout="pytorch"),
    "conv.bias": (wi.zeros(), (16,)),
    "grouped.weight": wi.Param(wi.he_uniform(), (16, 4, 3, 3), layout="pytorch", groups=2),
    "dense.kernel": wi.Param(wi.glorot_uniform(), (300, 301)),
    "dense.bias": (wi.constant(0.1), (301,)),
    "embedding": wi.Param(wi.truncated_normal(0.02), (500, 64), dtype=np.float64),
    "narrow": wi.Param(wi.truncated_normal(0.1, bound=0.5), (40, 30)),
    "half": wi.Param(wi.uniform(-0.3, 0.7), (33, 17), dtype=np.float16),
    "rnn.weight": wi.Param(wi.orthogonal(gain=2.0), (64, 48), layout="pytorch"),
    "sparse": wi.Param(wi.sparse(0.5), (20, 10)),
    "empty": wi.Param(wi.he_normal(), (0, 5)),
    7: wi.Param("lecun_normal", (9, 9)),
}


def _alone(name: Any, entry: Any, seed: Any, dtype: Any = np.float32) -> np.ndarray:
    p = entry if isinstance(entry, wi.Param) else wi.Param(*entry)
    key = wi.Key.from_seed(seed).fold_in(name)
    return wi.get(p.initializer)(
        p.shape,
        p.dtype if p.dtype is not None else dtype,
        seed=key,
        layout=p.layout,
        groups=p.groups,
    )


@pytest.mark.parametrize("threads", [None, 1, 2])
def test_entries_equal_single_calls(threads: int | None) -> None:
    values = wi.initialize(MODEL, 5, threads=threads)
    assert list(values) == list(MODEL)
    for name, entry in MODEL.items():
        alone = _alone(name, entry, 5)
        assert values[name].dtype == alone.dtype, name
        assert values[name].tobytes() == alone.tobytes(), name


def test_dtype_applies_where_the_param_sets_none() -> None:
    values = wi.initialize(MODEL, 1, dtype=np.float64)
    assert values["conv.weight"].dtype == np.float64
    assert values["half"].dtype == np.float16
    assert (
        values["conv.weight"].tobytes()
        == _alone("conv.weight", MODEL["conv.weight"], 1, np.float64).tobytes()
    )


def test_many_small_tensors_share_chains(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = kernels._box_muller

    def counting(*args: Any) -> None:
        calls.append(args[2].size)
        original(*args)

    monkeypatch.setattr(kernels, "_box_muller", counting)
    params = {f"layer{i}": (wi.he_normal(), (64, 64)) for i in range(64)}
    values = wi.initialize(params, 0, threads=1)
    # 64 tiles of 4096 values make one batch of 2**18: one Box-Muller chain for all of them.
    assert calls == [64 * 2048]
    calls.clear()
    assert values["layer9"].tobytes() == _alone("layer9", params["layer9"], 0).tobytes()
    assert len(calls) == 1


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6, unique=True),
    extra=st.text(min_size=1, max_size=8),
    seed=st.integers(0, 2**32),
)
def test_adding_or_removing_an_entry_changes_nothing_else(
    names: list[str], extra: str, seed: int
) -> None:
    params = {n: (wi.he_normal(), (7, 5)) for n in names}
    base = wi.initialize(params, seed)
    grown = wi.initialize({extra: (wi.glorot_uniform(), (3, 3)), **params}, seed)
    fewer = wi.initialize(dict(list(params.items())[1:]), seed)
    for n in names:
        assert grown[n].tobytes() == base[n].tobytes()
        if n in fewer:
            assert fewer[n].tobytes() == base[n].tobytes()


def test_a_generator_seed_is_resolved_once() -> None:
    a = wi.initialize(MODEL, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    key = wi.Key.from_seed(rng)
    b = wi.initialize(MODEL, key)
    assert all(a[n].tobytes() == b[n].tobytes() for n in MODEL)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (
            {"fc": (wi.he_normal(), (5,))},
            ValueError,
            r"params\['fc'\]: shape \(5,\) of rank 1 has no fans",
        ),
        (
            {"fc": (wi.he_normal(), (6, 4)), "bad": "zeros"},
            TypeError,
            r"params\['bad'\]: an entry must be",
        ),
        (
            {"fc": ("he_nromal", (6, 4))},
            ValueError,
            r"params\['fc'\]: .*The closest are 'he_normal'",
        ),
        (
            {"c": wi.Param(wi.he_normal(), (6, 4, 3), layout="pytorch", groups=4)},
            ValueError,
            r"params\['c'\]: groups=4",
        ),
        ({"o": (wi.orthogonal(), (6,))}, ValueError, r"params\['o'\]: orthogonal needs a shape"),
        (
            {"h": wi.Param(wi.constant(1e6), (2, 2), dtype=np.float16)},
            ValueError,
            r"params\['h'\]: values of magnitude",
        ),
        (
            {1.5: (wi.zeros(), (2,))},
            TypeError,
            r"params\[1.5\]: parameter names must be str or int",
        ),
        ({"t": (wi.zeros(),)}, TypeError, r"params\['t'\]: an entry must be"),
    ],
)
def test_a_bad_entry_is_named(params: dict[Any, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        wi.initialize(params, 0)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="params must be a mapping"):
        wi.initialize([("a", (wi.zeros(), (2,)))], 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dtype must be one of"):
        wi.initialize({}, 0, dtype=np.int32)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        wi.initialize({}, 0, threads=0)
    with pytest.raises(TypeError, match="progress must be a bool or a callable"):
        wi.initialize({}, 0, progress="yes")  # type: ignore[arg-type]
    assert wi.initialize({}, 0) == {}


def test_progress_callable_sees_every_element() -> None:
    seen: list[tuple[int, int]] = []
    values = wi.initialize(MODEL, 2, progress=lambda done, total: seen.append((done, total)))
    total = sum(v.size for v in values.values())
    assert seen, "no progress reported"
    assert all(t == total for _, t in seen)
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and dones[-1] == total
    quiet = wi.initialize(MODEL, 2)
    assert all(quiet[n].tobytes() == values[n].tobytes() for n in MODEL)


def test_progress_bar_needs_tqdm_only_for_long_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    small = wi.initialize({"w": (wi.he_normal(), (64, 64))}, 0, progress=True)
    assert small["w"].shape == (64, 64)  # too short to show a bar: tqdm is not needed
    with pytest.raises(ImportError, match=r"progress extra .*weightinit\[progress\]"):
        wi.initialize({"w": (wi.zeros(), (2**12, 2**12))}, 0, progress=True)


def test_progress_bar_runs_with_tqdm(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    values = wi.initialize({"w": (wi.zeros(), (2**12, 2**12))}, 0, progress=True)
    assert values["w"].shape == (2**12, 2**12)
    assert "initialize" in capsys.readouterr().err


def test_peak_memory_is_the_outputs_plus_scratch() -> None:
    params = {f"w{i}": (wi.he_normal(), (1024, 1024)) for i in range(16)}  # 64 MiB float32
    params["big"] = (wi.truncated_normal(0.02), (4096, 2048))  # 32 MiB
    outputs = 16 * 1024 * 1024 * 4 + 4096 * 2048 * 4
    tracemalloc.start()
    try:
        wi.initialize(params, 0, threads=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= outputs + 64 * 2**20, (peak - outputs) / 2**20


def test_errors_keep_their_cause_and_odd_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"params\['fc'\]: shape \(5,\)") as error:
        wi.initialize({"fc": (wi.he_normal(), (5,))}, 0)
    assert isinstance(error.value.__cause__, ValueError)
    with pytest.raises(ValueError, match="fold_in needs a name that UTF-8 can encode"):
        wi.initialize({"\ud800": (wi.zeros(), (3,))}, 0)
    assert wi.initialize({np.int64(3): (wi.zeros(), (2,))}, 0)[3].shape == (2,)


def test_a_bad_entry_leaves_a_generator_untouched() -> None:
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    with pytest.raises(ValueError, match=r"params\['bad'\]"):
        wi.initialize({"ok": (wi.zeros(), (2,)), "bad": (wi.he_normal(), (5,))}, rng)
    assert rng.bit_generator.state == before


def test_many_tiny_tensors_keep_few_stream_objects() -> None:
    from weightinit._engine import run
    from weightinit._engine import streams

    params = {f"b{i}": (wi.uniform(), (1,)) for i in range(5000)}
    values = wi.initialize(params, 0, threads=1)
    assert len(values) == 5000
    assert len(streams._STREAMS.pool) <= streams.KEPT_STREAMS
    assert run.MAX_TILES_PER_BATCH == 1024
    assert values["b4999"].tobytes() == _alone("b4999", params["b4999"], 0).tobytes()


def test_each_fact_of_a_parameter_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The layout is resolved, and the shape, groups and blocks checked, once per parameter
    # on the whole way from Param to the engine; a Param built from a checked Weight
    # resolves nothing again.
    import importlib

    from weightinit.initializers import Weight

    module = importlib.import_module(Weight.__module__)
    calls: dict[str, int] = {}
    for name in ("resolve_layout", "check_shape", "check_groups", "check_blocks"):
        original = getattr(module, name)

        def counting(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls[_name] = calls.get(_name, 0) + 1
            return _original(*args)

        monkeypatch.setattr(module, name, counting)
    params = {
        "fc1.weight": wi.Param(wi.he_normal(), (256, 784), layout="pytorch"),
        "fc1.bias": (wi.zeros(), (256,)),
        "gates": wi.Param(wi.orthogonal(), (4 * 16, 16), layout="torch", blocks=4),
    }
    values = wi.initialize(params, seed=0)
    assert calls == {"resolve_layout": 3, "check_shape": 3, "check_groups": 3, "check_blocks": 3}
    assert values["fc1.weight"].tobytes() == _alone("fc1.weight", params["fc1.weight"], 0).tobytes()
    calls.clear()
    checked = params["fc1.weight"].weight
    wi.initialize({"again": wi.Param.of(wi.he_normal(), checked)}, seed=0)
    assert calls == {}
