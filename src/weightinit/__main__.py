"""``python -m weightinit``: the command line (a demonstration without arguments)."""

from __future__ import annotations

from weightinit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
