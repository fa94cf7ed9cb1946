"""What a newcomer types in the first hour: guessable names and errors that say what to do."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import weightinit as wi

# --------------------------------------------------------------------------- a plain normal


def test_normal_is_the_plain_normal() -> None:
    assert wi.normal() == wi.scaled_normal() == wi.normal(0.01, 0.0)
    assert wi.normal(0.02) == wi.scaled_normal(0.02)
    assert repr(wi.normal(0.02)) == "normal(0.02)"
    assert repr(wi.scaled_normal(0.5, 1.0)) == "normal(0.5, mean=1.0)"
    assert wi.normal(0.02).get_config() == {"name": "scaled_normal", "stddev": 0.02, "mean": 0.0}
    w = wi.normal(0.02, 1.0)((400, 300), seed=0)
    assert abs(float(w.mean()) - 1.0) < 4.3 * 0.02 / np.sqrt(w.size)
    assert abs(float(w.std()) - 0.02) < 4.3 * 0.02 / np.sqrt(2 * w.size)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("normal", wi.normal()),
        ("random_normal", wi.normal()),
        ("Random-Normal", wi.normal()),
        ("random_uniform", wi.uniform()),
        ("scaled_normal", wi.normal()),
    ],
)
def test_framework_names_resolve(name: str, expected: wi.Initializer) -> None:
    assert wi.get(name) == expected
    assert name.lower().replace("-", "_") in wi.names(aliases=True)


# --------------------------------------------------------------------------- errors


def test_a_short_name_lists_the_closest_and_where_the_rest_are() -> None:
    with pytest.raises(ValueError) as error:
        wi.get("he")
    message = str(error.value)
    assert message.startswith("unknown initializer name 'he'. The closest are 'he_normal'")
    assert f"weightinit.names() lists all {len(wi.names())}." in message
    assert len(message) < 200
    with pytest.raises(ValueError, match="The closest are 'normal'"):
        wi.get("normall")


def test_a_second_dimension_in_the_dtype_slot_is_explained() -> None:
    init = wi.he_normal()
    with pytest.raises(
        TypeError,
        match=r"got 256\. The shape is one tuple: init\(\(784, 256\)\), not init\(784, 256\)",
    ):
        init(784, 256)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"dtype must be one of float16, float32, float64; got 'int32'"
    ):
        init((784, 256), np.int32)


def _makes_an_initializer(name: str) -> bool:
    """Whether ``wi.<name>`` is a factory whose defaults make an initializer."""
    obj = getattr(wi, name)
    if not inspect.isfunction(obj):
        return False
    parameters = inspect.signature(obj).parameters.values()
    if any(p.default is inspect.Parameter.empty for p in parameters):
        return False
    return isinstance(obj(), wi.Initializer)


FACTORIES = [name for name in wi.__all__ if _makes_an_initializer(name)]


@pytest.mark.parametrize("name", [*FACTORIES, "constant"])
def test_passing_the_shape_to_a_factory_says_where_it_goes(name: str) -> None:
    factory = getattr(wi, name)
    shown = factory.__name__
    with pytest.raises(
        TypeError,
        match=rf"{shown}\(\) makes an initializer; the shape goes to the call: "
        rf"{shown}\(\)\(\(784, 256\)\), not {shown}\(\(784, 256\)\)\.",
    ):
        factory((784, 256))


def test_every_factory_is_covered() -> None:
    assert {"he_normal", "zeros", "orthogonal", "normal", "variance_scaling"} <= set(FACTORIES)


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("NCHW", "out_in"),
        ("channels_first", "out_in"),
        ("OIHW", "out_in"),
        ("NHWC", "in_out"),
        ("channels-last", "in_out"),
        ("HWIO", "in_out"),
        ("IOHW", "pytorch_transposed"),
    ],
)
def test_common_layout_spellings(alias: str, canonical: str) -> None:
    shape = (8, 4, 3, 3)
    assert wi.fans(shape, layout=alias) == wi.fans(shape, layout=canonical)


def test_a_misspelt_layout_lists_the_aliases_and_suggests_one() -> None:
    with pytest.raises(ValueError, match=r"got 'nchw_'\. Did you mean 'nchw'\? Aliases: 'keras', "):
        wi.fans((8, 4, 3, 3), layout="nchw_")


@pytest.mark.parametrize("name", ["softmax", "Softmax", "log_softmax", "LogSoftmax", "softmin"])
def test_softmax_points_to_a_linear_layer(name: str) -> None:
    with pytest.raises(
        ValueError, match=rf"'{name}' normalises a network's outputs.*recommend\(None\)"
    ):
        wi.recommend(name)
    assert wi.recommend(None) == wi.glorot_uniform()
