"""Edge cases: extreme parameters, byte orders, forks, keys and user callables."""

from __future__ import annotations

import math
import multiprocessing
import sys

import numpy as np
import pytest

import weightinit as wi
from weightinit.distributions import truncated_variance


def _simpson_truncated_variance(bound: float, n: int = 20_000) -> float:
    """The same variance by Simpson's rule on a grid scaled to the bound (no cancellation)."""
    x = np.linspace(-bound, bound, 2 * n + 1)
    w = np.ones_like(x)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    density = np.exp(-0.5 * x * x)
    return float((w * x * x * density).sum() / (w * density).sum())


@pytest.mark.parametrize("bound", [1e-9, 1e-6, 1e-3, 0.05, 0.5, 0.999, 1.0, 1.5, 2.0, 4.0])
def test_truncated_variance_is_accurate_for_any_bound(bound: float) -> None:
    expected = _simpson_truncated_variance(bound)
    assert truncated_variance(bound) == pytest.approx(expected, rel=1e-9)
    assert wi.truncated_normal(1.0, bound=bound).variance((3,)) > 0.0


def test_non_native_float64_uses_float64_precision() -> None:
    native = wi.he_normal()((40, 30), dtype="<f8", seed=0)
    swapped = wi.he_normal()((40, 30), dtype=">f8", seed=0)
    assert swapped.dtype == np.dtype(">f8")
    assert np.array_equal(native, swapped.astype("<f8"))
    assert not np.array_equal(native, native.astype(np.float32).astype(np.float64))


def test_dtype_none_means_float32() -> None:
    assert wi.he_normal()((4, 4), None, seed=0).dtype == np.float32


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: wi.variance_scaling(10**400), "scale must be positive and finite"),
        (lambda: wi.constant(10**400), "value must be finite"),
        (lambda: wi.he_normal(negative_slope=10**400), "negative_slope must be finite"),
        (lambda: wi.gain("leaky_relu", negative_slope=10**400), "negative_slope must be finite"),
        (lambda: wi.uniform(-1e200, 1e200).variance((2, 2)), "overflows a float64"),
        (lambda: wi.scaled_normal(1e200).variance(4), "overflows a float64"),
        (lambda: wi.he_normal().variance((10**400, 2)), "too large to index"),
        (lambda: wi.zeros()((2**63,)), "too large to index"),
        (lambda: wi.zeros()((2**40, 2**40)), "too many elements"),
        (lambda: wi.scaled_normal(1e-50)((4,), seed=0), "rounds to zero in float32"),
        (lambda: wi.constant(1e-10)((2,), np.float16), "rounds to zero in float16"),
        (lambda: wi.recommend("leaky_relu", negative_slope=1e200), "negative_slope=1e\\+200"),
    ],
)
def test_extreme_parameters_are_value_errors(make, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        make()


def test_float16_normal_limit_is_the_float32_sampler_limit() -> None:
    # The float32 sampler never exceeds 5.77 standard deviations, so 7700 * 5.77 < 65504 fits.
    w = wi.scaled_normal(7700.0)((64,), np.float16, seed=0)
    assert np.isfinite(w).all()


@pytest.mark.parametrize(
    ("region", "error", "match"),
    [
        (np.array([0, 1]), TypeError, "region entries must be slices"),
        (np.s_[::0], ValueError, "step must not be zero"),
    ],
)
def test_more_region_errors(region: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        wi.he_normal()((4, 5), seed=0, region=region)


@pytest.mark.parametrize("words", [(1, 2, 3), ("a", 2, 3, 4), (1, 2, 3, 2**70), [1, 2, 3, 4]])
def test_key_is_validated(words: object) -> None:
    with pytest.raises(ValueError, match="a Key holds four integers"):
        wi.Key(words)  # type: ignore[arg-type]


def test_base_initializer_explains_itself() -> None:
    with pytest.raises(TypeError, match="Initializer is a base class"):
        wi.Initializer()((2, 2))


def test_get_names_missing_parameters() -> None:
    with pytest.raises(TypeError, match=r"constant\(\) needs parameter\(s\) value"):
        wi.get("constant")
    with pytest.raises(TypeError, match=r"constant\(\) needs parameter\(s\) value"):
        wi.get({"name": "constant"})


def test_names_ignore_case_spaces_and_hyphens_everywhere() -> None:
    assert wi.get("Kaiming Normal") == wi.he_normal()
    assert wi.fans((3, 4), layout="Out In") == wi.fans((3, 4), layout="out_in")
    assert wi.gain("Leaky-ReLU") == wi.gain("leaky_relu")


def test_gain_does_not_depend_on_the_scale_of_f() -> None:
    assert wi.gain(lambda x: np.full_like(x, 1e200)) == pytest.approx(1e-200, rel=1e-9)
    assert wi.gain(lambda x: np.full_like(x, 1e-170)) == pytest.approx(1e170, rel=1e-9)
    assert wi.gain(lambda x: 1e9 * np.tanh(x)) == pytest.approx(wi.gain("tanh") * 1e-9, rel=1e-9)


def test_gain_rejects_complex_and_raising_callables() -> None:
    with pytest.raises(ValueError, match="complex"):
        wi.gain(lambda x: x + 1j)
    table = np.linspace(-1.0, 1.0, 161)

    def lut(x):  # type: ignore[no-untyped-def]
        return table[np.round(x * 10).astype(int) + 80]

    with pytest.raises(ValueError, match="raised IndexError"):
        wi.gain(lut)
    with pytest.raises(ValueError, match="raised IndexError"):
        wi.register_activation("edges_lut_act", lut)
    assert "edges_lut_act" not in wi.activations()


def test_infinite_second_moment_is_detected() -> None:
    with pytest.raises(ValueError, match="infinite"):
        wi.gain(lambda x: np.exp(x * x / 4.0 + 1.0))


def test_register_activation_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="aliases must be a tuple"):
        wi.register_activation("edges_abs_act", np.abs, aliases="abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="recommend must be callable"):
        wi.register_activation("edges_abs_act", np.abs, recommend=3)  # type: ignore[arg-type]
    assert "edges_abs_act" not in wi.activations()


def _child(seed: int) -> float:
    return float(wi.he_normal()((300, 300), seed=seed, threads=2).std())


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX-only")
# Once JAX is imported (the bridges' tests and docs do), it warns at every fork that its own
# threads do not survive one; this test forks on purpose, to check that ours do.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_threads_work_after_fork() -> None:
    wi.he_normal()((300, 300), seed=0, threads=2)  # the parent's pool exists before the fork
    with multiprocessing.get_context("fork").Pool(2) as pool:
        result = pool.map_async(_child, [1, 2])
        stds = result.get(timeout=60)
    assert all(math.isfinite(s) and s > 0 for s in stds)


def test_sparse_keeps_its_exact_zero_count_in_float16() -> None:
    w = wi.sparse(0.5, 1e-6)((100, 10), np.float16, seed=0)
    assert ((w == 0).sum(axis=0) == 50).all()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: wi.presets.describe("pytorch.linear"), TypeError, "sequence of preset names"),
        (lambda: wi.presets.describe(["nope"]), ValueError, "preset name must be one of"),
        (lambda: wi.sparse().zeros_per_unit(()), ValueError, "rank >= 2"),
        (lambda: wi.he_normal()((4, 5), seed=0, region=np.s_[0:2.5]), TypeError, "integer bounds"),
        (lambda: wi.orthogonal()((8, 4), groups=2), ValueError, "groups=2 is not supported"),
        (lambda: wi.orthogonal().variance((0, 5)), ValueError, "is empty"),
    ],
)
def test_more_named_errors(call, error: type[Exception], match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


def test_dask_rejects_empty_chunks() -> None:
    pytest.importorskip("dask.array")
    from weightinit.dask import array

    with pytest.raises(ValueError, match="chunks"):
        array("he_normal", (10, 10), chunks=(0, 5), seed=0)


def test_diagnose_predicts_for_orthogonal_weights() -> None:
    report = wi.diagnose(wi.orthogonal(), "tanh", depth=3, width=64, batch=200)
    assert all(math.isfinite(s.predicted_std) for s in report.layers)
    assert report.layers[-1].predicted_std == pytest.approx(report.layers[-1].std, rel=0.1)


def test_cli_reports_a_bad_plot_path_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    from weightinit.cli import main

    code = main(
        [
            "diagnose",
            "--init",
            "he_normal",
            "--activation",
            "relu",
            "--depth",
            "2",
            "--width",
            "8",
            "--batch",
            "16",
            "--plot",
            "/nonexistent-dir/x.png",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "error" in err
