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
        ("OIHW", "out_in"),
        ("HWIO", "in_out"),
        ("IOHW", "pytorch_transposed"),
        ("HWOI", "keras_transposed"),
        ("keras-conv-transpose", "keras_transposed"),
    ],
)
def test_common_layout_spellings(alias: str, canonical: str) -> None:
    shape = (8, 4, 3, 3)
    assert wi.fans(shape, layout=alias) == wi.fans(shape, layout=canonical)


@pytest.mark.parametrize("name", ["NCHW", "channels_first", "NHWC", "channels-last", "ndhwc"])
def test_a_data_format_is_not_a_layout(name: str) -> None:
    # A Keras Conv2D kernel is (kh, kw, in, out) in both data formats: reading it as
    # (out, in, kh, kw) because the data is channels-first took the fans from the wrong axes.
    with pytest.raises(
        ValueError,
        match=rf"layout {name!r} is a data format.*\(HWIO, layout 'in_out'\).*"
        r"\(OIHW, layout 'out_in'\), whatever the data format\. Layouts: 'in_out', ",
    ):
        wi.fans((3, 3, 16, 32), layout=name)
    with pytest.raises(ValueError, match="is a data format"):
        wi.he_normal()((3, 3, 16, 32), layout=name)


def test_a_misspelt_layout_lists_the_aliases_and_suggests_one() -> None:
    with pytest.raises(ValueError, match=r"got 'hwoi_'\. Did you mean 'hwoi'\? Aliases: 'keras', "):
        wi.fans((8, 4, 3, 3), layout="hwoi_")


@pytest.mark.parametrize("name", ["softmax", "Softmax", "log_softmax", "LogSoftmax", "softmin"])
def test_softmax_points_to_a_linear_layer(name: str) -> None:
    with pytest.raises(
        ValueError, match=rf"'{name}' normalises a network's outputs.*recommend\(None\)"
    ):
        wi.recommend(name)
    assert wi.recommend(None) == wi.glorot_uniform()


# --------------------------------------------------------------------------- the experiment


def test_diagnose_takes_the_activations_parameters() -> None:
    report = wi.diagnose("he_normal", "leaky_relu", negative_slope=0.2, depth=3)
    assert report.activation == "leaky_relu(negative_slope=0.2)"
    default = wi.diagnose("he_normal", "leaky_relu", depth=3)
    steep = wi.diagnose("he_normal", "leaky_relu", negative_slope=0.9, depth=3)
    # A steeper negative side keeps more of the negative half: fewer exact zeros, more mean
    # shift removed; the layer statistics differ from the default slope's.
    assert steep.layers[0].mean < report.layers[0].mean < default.layers[0].mean
    with pytest.raises(
        TypeError, match=r"activation 'leaky_relu' takes parameters \(negative_slope\)"
    ):
        wi.diagnose("he_normal", "leaky_relu", alpha=1.0)
    table = wi.compare(["he_normal", "glorot_normal"], "elu", alpha=0.5, depth=2)
    assert {r.activation for r in table.reports} == {"elu(alpha=0.5)"}


def test_compare_takes_labels() -> None:
    inits = {"N(0,1)": wi.normal(1.0), "Xavier": "glorot_normal", "He": wi.he_normal()}
    table = wi.compare(inits, "tanh", depth=3)
    assert [r.name for r in table.reports] == ["N(0,1)", "Xavier", "He"]
    assert [r.init for r in table.reports] == ["normal(1.0)", "glorot_normal()", "he_normal()"]
    lines = str(table).splitlines()
    assert [line.split()[0] for line in lines[3:]] == ["N(0,1)", "Xavier", "He"]
    plain = wi.compare(list(inits.values()), "tanh", depth=3)
    assert [r.layers for r in plain.reports] == [r.layers for r in table.reports]
    assert table.to_dict()["reports"][0]["label"] == "N(0,1)"


def test_text_histograms_draw_each_layer() -> None:
    report = wi.diagnose(wi.normal(1.0), "tanh", depth=4)
    text = report.histograms(width=12, height=3)
    lines = text.splitlines()
    assert lines[0] == "normal(1.0) with tanh: activations at each layer (saturated)"
    assert lines[1].split() == ["layer", "1", "layer", "2", "layer", "3", "layer", "4"]
    bars = lines[2:5]
    # Saturated tanh piles up at -1 and 1: the outer columns of every panel are full height.
    for panel in range(4):
        columns = [line[panel * 14 : panel * 14 + 12] for line in bars]
        assert columns[0][0] == columns[0][-1] == "█"
        assert all(c == " " for c in columns[0][3:-3])
    assert lines[5].split()[0] == "-1..1"
    assert lines[6].split()[:2] == ["std", f"{report.layers[0].std:.3g}"]


def test_block_histograms() -> None:
    from weightinit._text import blocks

    assert blocks([0, 0, 0], width=3, height=2) == ["   ", "   "]
    tall = blocks([1, 2, 4, 8], width=4, height=1)
    assert tall == ["▁▂▄█"]
    # Every non-empty column shows, however small against the tallest.
    assert blocks([1, 10_000], width=2, height=1) == ["▁█"]
    merged = blocks(list(range(60)), width=15, height=2)
    assert len(merged) == 2 and all(len(line) == 15 for line in merged)
    with pytest.raises(ValueError, match="width and height must be >= 1"):
        blocks([1], width=0)


def test_cli_prints_text_histograms(capsys: pytest.CaptureFixture[str]) -> None:
    from weightinit.cli import main

    args = ["compare", "--activation", "relu", "--init", "glorot_normal", "--init", "he_normal"]
    assert main([*args, "--depth", "2", "--hist"]) == 0
    out = capsys.readouterr().out
    assert "glorot_normal() (" in out and "he_normal() (healthy)" in out
    assert out.count("layer 1") == 2
    assert (
        main(
            [
                "diagnose",
                "--init",
                "he_normal",
                "--activation",
                "leaky_relu",
                "--negative-slope",
                "0.2",
                "--depth",
                "2",
            ]
        )
        == 0
    )
    assert "leaky_relu(negative_slope=0.2)" in capsys.readouterr().out


def test_explain_wraps_and_says_which_gain_is_used() -> None:
    text = wi.explain("tanh")
    lines = text.splitlines()
    assert lines[0] == "tanh: glorot_uniform()"
    assert all(len(line) <= 88 for line in lines[1:])
    assert "shown for reference: glorot_uniform() uses gain 1" in " ".join(lines)
    assert "for reference" not in wi.explain("relu")  # He's variance is the ReLU gain's
