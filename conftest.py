"""Collection rules for the whole repository (doctests of modules with optional extras)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

import weightinit

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

# Some public functions share their name with the submodule that defines them (fans, lsuv,
# activations). pytest's importlib import mode binds a submodule it collects on its parent
# package, over the function; the doctests expect the function.
_PUBLIC = {name: getattr(weightinit, name) for name in weightinit.__all__}


@pytest.fixture(autouse=True)
def _public_names_of_the_package() -> Iterator[None]:
    for name, value in _PUBLIC.items():
        if getattr(weightinit, name) is not value:
            setattr(weightinit, name, value)
    yield
