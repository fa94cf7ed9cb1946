"""Threads, regions and resolved keys: the same bytes however the work is split."""

from __future__ import annotations

import math
import re
import threading
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import weightinit as wi
from weightinit._engine import run
from weightinit._engine import streams
from weightinit._engine.kernels import Scratch

INITS = [
    wi.he_normal(),
    wi.glorot_uniform(),
    wi.variance_scaling(),
    wi.truncated_normal(0.1, bound=0.5),
    wi.constant(0.5),
]


def test_full_range_integers_are_the_raw_outputs() -> None:
    # The samplers read raw words through Generator.integers; it must equal random_raw.
    a, b = np.random.SFC64(7), np.random.SFC64(7)
    words = np.random.Generator(a).integers(0, 2**64 - 1, size=1000, dtype=np.uint64, endpoint=True)
    assert np.array_equal(words, b.random_raw(1000))


@pytest.mark.parametrize("init", INITS, ids=repr)
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_threads_do_not_change_values(init: wi.Initializer, threads: int) -> None:
    shape = (700, 300)  # several tiles, some partial
    assert np.array_equal(init(shape, seed=11, threads=threads), init(shape, seed=11, threads=1))


@st.composite
def regions(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[object, ...]]:
    shape = tuple(draw(st.lists(st.integers(1, 300), min_size=2, max_size=3)))
    index: list[object] = []
    for dim in shape:
        if draw(st.booleans()) and dim > 1:
            index.append(draw(st.integers(-dim, dim - 1)))
        else:
            start = draw(st.none() | st.integers(-dim, dim))
            stop = draw(st.none() | st.integers(-dim, dim))
            step = draw(st.none() | st.integers(-5, 5).filter(lambda s: s != 0))
            index.append(slice(start, stop, step))
    return shape, tuple(index)


@settings(max_examples=150, deadline=None)
@given(case=regions(), seed=st.integers(0, 2**32), pick=st.integers(0, len(INITS) - 1))
def test_region_equals_slice_of_full(
    case: tuple[tuple[int, ...], tuple[object, ...]], seed: int, pick: int
) -> None:
    shape, index = case
    init = INITS[pick]
    full = init(shape, seed=seed)
    part = init(shape, seed=seed, region=index)
    expected = full[index]
    assert part.shape == expected.shape and part.dtype == expected.dtype
    assert np.array_equal(part, expected)


@pytest.mark.parametrize("init", [wi.he_normal(), wi.he_uniform(), wi.truncated_normal()])
def test_region_generates_only_touched_tiles(monkeypatch: pytest.MonkeyPatch, init) -> None:
    started: list[int] = []
    original = streams.Stream.start

    def counting(self, key, block):  # type: ignore[no-untyped-def]
        started.append(block)
        return original(self, key, block)

    monkeypatch.setattr(streams.Stream, "start", counting)
    shape = (4096, 4096)  # 256 tiles of 256 x 256, 16 per row of tiles
    part = init(shape, seed=0, region=np.s_[:, 1000:1100])
    assert part.shape == (4096, 100)
    # Tiles are cut in the canonical order (out, in): columns 1000:1100 of this (in, out)
    # weight are rows 1000:1100 there, tile rows 3 (768:1024) and 4 (1024:1280), every column.
    assert sorted(started) == sorted(16 * row + col for row in (3, 4) for col in range(16))


def test_region_with_ellipsis_and_ints() -> None:
    init = wi.he_uniform()
    full = init((3, 3, 64, 32), seed=5)
    assert np.array_equal(init((3, 3, 64, 32), seed=5, region=np.s_[..., 7]), full[..., 7])
    assert np.array_equal(init((3, 3, 64, 32), seed=5, region=np.s_[1, 2]), full[1, 2])


@pytest.mark.parametrize(
    ("region", "error", "match"),
    [
        (np.s_[1, 2, 3], ValueError, "has 3 indices but the shape"),
        (np.s_[10, :], ValueError, "region index 10 is out of range for axis 0 of size 4"),
        (np.s_[..., ...], ValueError, "at most one Ellipsis"),
        (np.s_[None, :], TypeError, "region entries must be slices, integers or Ellipsis"),
        ((1.5,), TypeError, "got 1.5"),
    ],
)
def test_region_errors(region: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        wi.he_normal()((4, 5), seed=0, region=region)


@pytest.mark.parametrize(
    ("threads", "error", "match"),
    [
        (0, ValueError, "threads must be >= 1; got 0."),
        (-2, ValueError, "threads must be >= 1; got -2."),
        (1.5, TypeError, "threads must be an integer; got 1.5 of type float."),
        ("2", TypeError, "threads must be an integer; got '2' of type str."),
    ],
)
def test_threads_errors(threads: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=re.escape(match)):
        wi.he_normal()((4, 5), seed=0, threads=threads)  # type: ignore[arg-type]


def test_key_reuses_one_generator_draw_for_all_pieces() -> None:
    key = wi.Key.from_seed(np.random.default_rng(3))
    init = wi.glorot_normal()
    full = init((300, 200), seed=key)
    top = init((300, 200), seed=key, region=np.s_[:150])
    bottom = init((300, 200), seed=key, region=np.s_[150:])
    assert np.array_equal(np.concatenate([top, bottom]), full)
    assert np.array_equal(full, init((300, 200), seed=wi.Key.from_seed(np.random.default_rng(3))))


def test_fill_with_threads_matches_call() -> None:
    init = wi.truncated_normal(0.02)
    target = np.empty((600, 500), dtype=np.float64, order="F")
    init.fill(target, seed=4, threads=2)
    assert np.array_equal(target, init((600, 500), np.float64, seed=4))


def _record_pools(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, object]]:
    """Record ``(threads, executor)`` for every pool the engine asks for (one per worker)."""
    pools: list[tuple[int, object]] = []
    original = run._pool

    def recording(threads: int):  # type: ignore[no-untyped-def]
        pool = original(threads)
        pools.append((threads, pool))
        return pool

    monkeypatch.setattr(run, "_pool", recording)
    return pools


def test_default_threads_use_every_core_for_large_weights_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pools = _record_pools(monkeypatch)
    monkeypatch.setattr(run, "_cores", lambda: 2)
    init = wi.he_normal()
    large = (1024, 1024)  # PARALLEL_MIN elements
    assert math.prod(large) == run.PARALLEL_MIN
    assert np.array_equal(init(large, seed=1), init(large, seed=1, threads=1))
    # The default call ran on the pool of 2 threads (the explicit threads=1 call on none).
    assert pools
    assert {threads for threads, _ in pools} == {2}
    assert len({id(pool) for _, pool in pools}) == 1
    used = len(pools)
    init((1023, 1024), seed=1)  # below the threshold: one thread, no pool
    assert len(pools) == used


def test_default_threads_follow_the_usable_cores_up_to_a_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for cores, expected in [(1, 1), (3, 3), (64, run.MAX_DEFAULT_THREADS)]:
        monkeypatch.setattr(run, "_cores", lambda cores=cores: cores)
        assert run.default_threads() == expected


def test_default_threads_reuse_one_pool_whatever_the_tile_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pools = _record_pools(monkeypatch)
    monkeypatch.setattr(run, "_cores", lambda: 6)
    asked: list[set[int]] = []
    for rows in (1024, 1536, 2048, 3072):  # 4 to 12 batches
        before = len(pools)
        wi.he_normal()((rows, 1024), seed=0)
        asked.append({threads for threads, _ in pools[before:]})
    # Every call used a pool, always the one of 6 threads, whatever its batch count.
    assert asked == [{6}, {6}, {6}, {6}]
    assert len({id(pool) for _, pool in pools}) == 1


def test_threads_keep_no_scratch_after_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker makes its own Scratch for one call and drops it when the call returns, so
    the pool's threads do not keep megabytes of buffers between calls."""
    made: list[tuple[weakref.ref[Scratch], str]] = []
    original = Scratch.__init__

    def recording(self: Scratch) -> None:
        original(self)
        made.append((weakref.ref(self), threading.current_thread().name))

    monkeypatch.setattr(Scratch, "__init__", recording)
    init = wi.he_normal()
    w = init((2048, 1024), seed=0, threads=2)
    # One scratch per worker (two batches or more, two threads), made in the pool's threads.
    assert len(made) == 2
    assert all(name.startswith("weightinit") for _, name in made)
    alive = [ref for ref, _ in made if ref() is not None]
    # Dropped by reference counting as the call returns, without waiting for a collection.
    assert alive == [], "a worker thread still holds its scratch after the call"
    # The values are those of one thread, whose scratch is dropped as well.
    one = init((2048, 1024), seed=0, threads=1)
    assert np.array_equal(w, one)
    assert len(made) == 3
    assert made[2][1] == threading.current_thread().name
    assert all(ref() is None for ref, _ in made)
