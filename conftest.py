"""Collection rules for the whole repository (doctests of modules with optional extras)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

# The examples of weightinit.dask, .torch, .jax and .keras need their extras; without one,
# its module is not collected.
collect_ignore = [
    path
    for extra in ("dask", "torch", "jax", "keras")
    if not importlib.util.find_spec(extra)
    for path in (f"src/weightinit/{extra}.py", f"src/weightinit/{extra}")
]

# Keras needs a backend; without a choice of the user's, one that is installed.
if "KERAS_BACKEND" not in os.environ:
    for backend in ("jax", "torch"):
        if importlib.util.find_spec(backend):
            os.environ["KERAS_BACKEND"] = backend
            break


@pytest.fixture(autouse=True)
def _registry_as_it_was() -> Iterator[None]:
    """Names a test or an example registers (``wi.register``) are forgotten after it: their
    factories may live in a namespace that ends with the test, and no later test should
    meet them."""
    import weightinit

    # The tables wi.register writes to: its module's globals (collecting the module's
    # doctests may import a second copy of the module, which wi.register does not use).
    tables = weightinit.register.__globals__
    saved = {name: dict(tables[name]) for name in ("_FACTORIES", "_ALIASES")}
    yield
    for name, table in saved.items():
        tables[name].clear()
        tables[name].update(table)
