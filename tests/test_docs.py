"""The Markdown pages under docs/ and README.md: every doctest session in them runs."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    if ">>> from weightinit.dask import" in text:
        pytest.importorskip("dask.array", reason="this page's examples need the dask extra")
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
