"""Dask arrays whose chunks are made from their own regions equal the in-memory weight."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import weightinit as wi

da = pytest.importorskip("dask.array")
from weightinit.dask import array  # noqa: E402

INITS = [wi.he_normal(), wi.glorot_uniform(), wi.variance_scaling(), wi.get("pytorch.conv2d")]


@st.composite
def chunked_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    shape = tuple(draw(st.lists(st.integers(1, 400), min_size=2, max_size=3)))
    chunks = []
    for dim in shape:
        sizes = []
        left = dim
        while left:
            size = draw(st.integers(1, left))
            sizes.append(size)
            left -= size
        chunks.append(tuple(sizes))
    return shape, tuple(chunks)


@settings(max_examples=40, deadline=None)
@given(case=chunked_shapes(), seed=st.integers(0, 2**32), pick=st.integers(0, len(INITS) - 1))
def test_any_chunking_equals_the_in_memory_weight(case, seed, pick) -> None:  # type: ignore[no-untyped-def]
    shape, chunks = case
    init = INITS[pick]
    lazy = array(init, shape, chunks=chunks, seed=seed)
    assert lazy.chunks == chunks
    got = lazy.compute(scheduler="threads")
    assert np.array_equal(got, init(shape, seed=seed))


def test_dtype_layout_and_groups_pass_through() -> None:
    init = wi.he_uniform()
    shape = (64, 16, 3, 3)
    lazy = array(
        init, shape, chunks=(20, 16, 3, 2), seed=3, dtype=np.float64, layout="pytorch", groups=2
    )
    expected = init(shape, np.float64, seed=3, layout="pytorch", groups=2)
    got = lazy.compute(scheduler="synchronous")
    assert got.dtype == np.float64
    assert np.array_equal(got, expected)


def test_generator_seed_is_resolved_once() -> None:
    lazy = array(wi.he_normal(), (500, 300), chunks=(100, 100), seed=np.random.default_rng(9))
    assert np.array_equal(lazy.compute(), lazy.compute())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: array(wi.orthogonal(), (8, 8), chunks=4, seed=0), ValueError, "whole weight"),
        (lambda: array(wi.he_normal(), (8,), chunks=4, seed=0), ValueError, "has no fans"),
        (
            lambda: array(wi.he_normal(), (8, 8), chunks=4, seed=0, dtype=np.int32),
            TypeError,
            "dtype",
        ),
        (
            lambda: array("he_nromal", (8, 8), chunks=4, seed=0),
            ValueError,
            "The closest are 'he_normal'",
        ),
        (
            lambda: array(wi.he_normal(), (8, 8), chunks=4, seed=0, layout="bad"),
            ValueError,
            "layout",
        ),
    ],
)
def test_errors(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"weightinit\[dask\]"):
        array(wi.he_normal(), (8, 8), chunks=4, seed=0)


def test_distributed_cluster_of_two_processes() -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        shape = (1200, 900)
        lazy = array(wi.glorot_normal(), shape, chunks=(300, 450), seed=2026)
        got = client.compute(lazy).result(timeout=120)
    assert np.array_equal(got, wi.glorot_normal()(shape, seed=2026))
