"""``python -m weightinit``: a short demonstration of the library at work."""

from __future__ import annotations

from weightinit.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
