"""The Markdown pages under docs/ and README.md: every doctest session in them runs."""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import shlex
from pathlib import Path

import pytest

if "KERAS_BACKEND" not in os.environ:  # the Keras examples need a backend that is installed
    for _backend in ("jax", "torch"):
        if importlib.util.find_spec(_backend):
            os.environ["KERAS_BACKEND"] = _backend
            break

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    if ">>> from weightinit.dask import" in text:
        pytest.importorskip("dask.array", reason="this page's examples need the dask extra")
    for framework in (
        "torch",
        "transformers",
        "jax",
        "flax",
        "keras",
        "equinox",
        "haiku",
        "sklearn.datasets",
    ):
        if f">>> import {framework}" in text or f">>> from {framework} import" in text:
            pytest.importorskip(framework, reason=f"this page's examples need {framework}")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False
    )
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} example(s) failed in {page.name}"


def test_docs_have_examples() -> None:
    assert PAGES, "docs/ has no pages"
    counted = sum(len(doctest.DocTestParser().get_examples(p.read_text())) for p in PAGES)
    assert counted >= 10


def test_every_public_name_is_documented() -> None:
    import weightinit

    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    missing = [name for name in weightinit.__all__ if name not in text]
    assert not missing, f"public names missing from docs/: {missing}"


def test_api_reference_lists_every_public_name() -> None:
    import weightinit

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    entries = {line[len("::: ") :].strip() for line in text.splitlines() if line.startswith("::: ")}
    missing = [n for n in weightinit.__all__ if f"weightinit.{n}" not in entries]
    assert not missing, f"public names missing from docs/api.md: {missing}"


def test_every_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert [p for p in pages if f": {p}" not in nav] == []


# --------------------------------------------------------------------------- output not doctested

CONSOLE = re.compile(r"```console\n(.*?)```", re.S)
PRINTED = re.compile(r"this is `print\((.+?)\)`:\n\n```text\n(.*?)```", re.S)


def _sessions() -> list[tuple[str, list[str], list[str], int | None]]:
    """Every ``$ weightinit ...`` line of the pages' console blocks: (page, arguments, the
    lines shown after it, the exit status an ``echo $?`` shows or None)."""
    found = []
    for page in PAGES:
        for block in CONSOLE.findall(page.read_text(encoding="utf-8")):
            commands: list[tuple[str, list[str]]] = []
            for line in block.splitlines():
                if line.startswith("$ "):
                    commands.append((line[2:], []))
                elif commands:
                    commands[-1][1].append(line)
            for i, (command, shown) in enumerate(commands):
                if not command.startswith("weightinit "):
                    continue
                status = None
                if i + 1 < len(commands) and commands[i + 1][0] == "echo $?":
                    status = int(commands[i + 1][1][0])
                found.append((page.name, shlex.split(command)[1:], shown, status))
    return found


SESSIONS = _sessions()


@pytest.mark.parametrize(
    ("page", "args", "shown", "status"), SESSIONS, ids=[" ".join(s[1]) for s in SESSIONS]
)
def test_console_examples_print_what_the_pages_show(
    page: str,
    args: list[str],
    shown: list[str],
    status: int | None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from weightinit.cli import main

    if "--plot" in args:
        pytest.importorskip("matplotlib")
        monkeypatch.chdir(tmp_path)
    code = main(args)
    captured = capsys.readouterr()
    printed = (captured.out + captured.err).rstrip("\n").splitlines()
    if status is not None:
        assert code == status
    if shown:
        assert [line.rstrip() for line in printed] == [line.rstrip() for line in shown], page
    else:
        assert code == 0


def test_printed_reports_are_what_the_pages_show() -> None:
    import weightinit as wi

    blocks = [(p.name, m) for p in PAGES for m in PRINTED.findall(p.read_text(encoding="utf-8"))]
    assert blocks, "no printed report found"
    for page, (expression, shown) in blocks:
        printed = str(eval(expression, {"wi": wi}))
        assert printed.rstrip() == shown.rstrip(), (page, expression)


def test_every_test_a_page_names_exists() -> None:
    """A claim backed by ``tests/file.py::test_name`` on a page names a test that exists."""
    named = 0
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for path, name in re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", text):
            source = ROOT / path
            assert source.is_file(), f"{page.name} names {path}, which does not exist"
            if name:
                named += 1
                pattern = rf"^def {name}\("
                assert re.search(pattern, source.read_text(), re.M), f"{page.name}: {name}"
    assert named >= 10
