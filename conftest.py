"""Collection rules for the whole repository (doctests of modules with optional extras)."""

from __future__ import annotations

import importlib.util

# weightinit.dask's examples need the dask extra; without it the module is not collected.
collect_ignore = [] if importlib.util.find_spec("dask") else ["src/weightinit/dask.py"]
