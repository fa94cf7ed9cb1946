"""Make ``tests/`` importable, so test modules can ``from strategies import ...``.

pytest runs with ``--import-mode=importlib``, which does not put test directories on
``sys.path``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hypothesis import settings

# Every property test explores the same examples on every run and machine: a failure is
# reproducible, and a pass does not depend on luck.
settings.register_profile("weightinit", derandomize=True, database=None)
settings.load_profile("weightinit")
