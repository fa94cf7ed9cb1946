"""The command line: every subcommand's text and JSON output, help, and errors (exit status 2)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import weightinit as wi
from weightinit import demo
from weightinit.cli import main

SMALL = ["--depth", "3", "--width", "20", "--batch", "30"]
PNG = b"\x89PNG\r\n\x1a\n"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(argv)`` as a shell would see it: exit status, stdout, stderr."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    code, out, err = run([*argv, "--json"], capsys)
    assert (code, err) == (0, "")
    return json.loads(out)


@pytest.fixture
def pyplot() -> Iterator[Any]:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


# --------------------------------------------------------------------------- recommend


def test_recommend(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["recommend", "relu"], capsys)
    assert (code, err) == (0, "")
    # The text of explain, whose first line is the activation and the call that makes it.
    assert out.splitlines()[0] == f"relu: {wi.he_normal()!r}" == "relu: he_normal()"
    assert out == wi.explain("relu") + "\n"
    assert "He et al. (2015)" in out


def test_recommend_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(["recommend", "tanh", "--distribution", "normal"], capsys)
    assert data["activation"] == "tanh"
    assert wi.get(data["initializer"]) == wi.glorot_normal()
    assert data["call"] == repr(wi.glorot_normal()) == "glorot_normal()"
    assert eval(data["call"], vars(wi)) == wi.get(data["initializer"])
    assert data["explanation"] == wi.explain("tanh", distribution="normal")
    assert repr(wi.glorot_normal()) in data["explanation"]  # the text explains what is returned


def test_recommend_with_a_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(["recommend", "leaky_relu", "--negative-slope", "0.2"], capsys)
    assert wi.get(data["initializer"]) == wi.recommend("leaky_relu", negative_slope=0.2)


# --------------------------------------------------------------------------- gain


def test_gain(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["gain", "tanh"], capsys) == (0, "1.592537\n", "")
    assert run(["gain", "tanh", "--convention", "pytorch"], capsys) == (0, "1.666667\n", "")


def test_gain_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(["gain", "elu", "--alpha", "0.5"], capsys)
    assert data == {
        "activation": "elu",
        "convention": "second_moment",
        "gain": wi.gain("elu", alpha=0.5),
    }


# --------------------------------------------------------------------------- fans


def test_fans(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["fans", "64", "32", "3", "3", "--layout", "pytorch"], capsys)
    assert (code, out, err) == (0, "fan_in=288 fan_out=576 receptive_field=9\n", "")
    code, out, _ = run(["fans", "3", "3", "64", "128"], capsys)
    assert out == "fan_in=576 fan_out=1152 receptive_field=9\n"


def test_fans_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(["fans", "64", "32", "3", "3", "--layout", "pytorch", "--groups", "2"], capsys)
    assert data == wi.fans((64, 32, 3, 3), layout="pytorch", groups=2)._asdict()


# --------------------------------------------------------------------------- diagnose


def test_diagnose(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        ["diagnose", "--init", "he_normal", "--activation", "relu", *SMALL], capsys
    )
    assert (code, err) == (0, "")
    report = wi.diagnose("he_normal", "relu", depth=3, width=20, batch=30)
    assert out == f"{report}\n"
    assert "verdict: " in out


def test_diagnose_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["diagnose", "--init", "glorot_normal", "--activation", "tanh", "--seed", "4"]
    argv += ["--bias", "0.5", *SMALL]
    data = run_json(argv, capsys)
    report = wi.diagnose("glorot_normal", "tanh", depth=3, width=20, batch=30, seed=4, bias=0.5)
    assert data == json.loads(json.dumps(report.to_dict()))
    assert [layer["layer"] for layer in data["layers"]] == [1, 2, 3]


def test_diagnose_json_of_an_exploding_run(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["diagnose", "--init", "ones", "--activation", "linear", "--depth", "30"]
    data = run_json([*argv, "--width", "50", "--batch", "10"], capsys)
    assert data["verdict"] == "exploding"
    assert data["layers"][-1]["std"] is None  # inf has no JSON spelling


def test_diagnose_plot(tmp_path: Path, pyplot: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.png"
    argv = ["diagnose", "--init", "he_normal", "--activation", "relu", *SMALL]
    code, out, err = run([*argv, "--plot", str(path)], capsys)
    assert (code, err) == (0, "")
    assert "verdict" in out
    assert path.read_bytes()[:8] == PNG


def test_plot_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    argv = ["diagnose", "--init", "he_normal", "--activation", "relu", *SMALL]
    code, out, err = run([*argv, "--plot", str(tmp_path / "x.png")], capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "weightinit[plot]" in err
    assert not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------- compare


def test_compare(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compare", "--activation", "relu", "--init", "glorot_normal", "--init", "he_normal"]
    code, out, err = run(argv, capsys)
    assert (code, err) == (0, "")
    assert out == f"{wi.compare(['glorot_normal', 'he_normal'], 'relu')}\n"
    assert out.splitlines()[-2].endswith("vanishing")
    assert out.splitlines()[-1].endswith("healthy")


def test_compare_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compare", "--activation", "tanh", "--init", "scaled_normal", "--init", "glorot_normal"]
    data = run_json([*argv, *SMALL], capsys)
    assert [r["init"] for r in data["reports"]] == [
        repr(wi.scaled_normal()),
        repr(wi.glorot_normal()),
    ]
    assert all(r["depth"] == 3 for r in data["reports"])


def test_compare_plot(tmp_path: Path, pyplot: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "grid.png"
    argv = ["compare", "--activation", "tanh", "--init", "glorot_normal", "--init", "he_normal"]
    code, _, err = run([*argv, *SMALL, "--plot", str(path)], capsys)
    assert (code, err) == (0, "")
    assert path.read_bytes()[:8] == PNG


# --------------------------------------------------------------------------- help and errors


@pytest.mark.parametrize(
    "argv",
    [[], ["recommend"], ["gain"], ["fans"], ["diagnose"], ["compare"]],
    ids=lambda argv: " ".join(argv) or "weightinit",
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([*argv, "--help"], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("usage: weightinit")
    if argv:
        assert "--json" in out


DIAGNOSE = ["diagnose", "--init", "he_normal", "--activation"]
BAD = [
    ("unknown-command", ["bogus"], "invalid choice: 'bogus'"),
    ("recommend-activation", ["recommend", "rleu"], "activation must be one of"),
    ("recommend-distribution", ["recommend", "relu", "--distribution", "gamma"], "'gamma'"),
    ("recommend-parameter", ["recommend", "relu", "--alpha", "1"], "takes parameters"),
    ("gain-activation", ["gain", "rleu"], "activation must be one of"),
    ("gain-convention", ["gain", "tanh", "--convention", "keras"], "invalid choice: 'keras'"),
    ("gain-pytorch", ["gain", "gelu", "--convention", "pytorch"], "does not define"),
    ("fans-layout", ["fans", "3", "3", "--layout", "bogus"], "layout must be one of"),
    ("fans-rank-1", ["fans", "64", "--layout", "pytorch"], "rank 1"),
    ("fans-no-dims", ["fans"], "the following arguments are required: DIM"),
    ("fans-not-int", ["fans", "3", "x"], "invalid int value: 'x'"),
    ("fans-float", ["fans", "3.5", "2"], "invalid int value: '3.5'"),
    ("fans-groups", ["fans", "4", "4", "--groups", "3"], "groups=3"),
    ("diagnose-activation", [*DIAGNOSE, "rleu"], "activation must be one of"),
    ("diagnose-no-activation", ["diagnose", "--init", "he_normal"], "required: --activation"),
    ("diagnose-no-init", ["diagnose", "--activation", "relu"], "required: --init"),
    ("diagnose-init", ["diagnose", "--init", "he_normall", "--activation", "relu"], "he_normall"),
    ("diagnose-depth", [*DIAGNOSE, "relu", "--depth", "0"], "depth must be >= 1; got 0."),
    ("diagnose-width", [*DIAGNOSE, "relu", "--width", "-1"], "width must be >= 1; got -1."),
    ("diagnose-batch", [*DIAGNOSE, "relu", "--batch", "1.5"], "invalid int value: '1.5'"),
    ("diagnose-bias", [*DIAGNOSE, "relu", "--bias", "nan"], "bias must be finite"),
    ("diagnose-seed", [*DIAGNOSE, "relu", "--seed", "-1"], "seed must be >= 0; got -1."),
    ("compare-activation", ["compare", "--activation", "rleu", "--init", "he_normal"], "rleu"),
    ("compare-no-init", ["compare", "--activation", "relu"], "required: --init"),
    ("compare-no-activation", ["compare", "--init", "he_normal"], "required: --activation"),
]


@pytest.mark.parametrize(("argv", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("weightinit")
    assert ": error: " in err
    assert message in err


def test_no_arguments_prints_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([], capsys) == (0, demo.report() + "\n", "")


# --------------------------------------------------------------------------- processes


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_python_m_weightinit() -> None:
    result = _python("-m", "weightinit", "fans", "64", "32", "3", "3", "--layout", "pytorch")
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "fan_in=288 fan_out=576 receptive_field=9\n",
        "",
    )


def test_python_m_weightinit_without_arguments_prints_the_demo() -> None:
    result = _python("-m", "weightinit")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == demo.report() + "\n"


def test_console_script() -> None:
    # pip puts the script beside the interpreter; CI also has it on PATH
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    script = shutil.which("weightinit", path=search)
    if script is None:
        pytest.skip("the weightinit console script is not installed")
    result = subprocess.run(
        [script, "gain", "rleu"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("weightinit gain: error: activation must be one of")
    assert result.stderr.count("\n") == 1
