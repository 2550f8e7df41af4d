"""``python -m portico.cli``."""

from __future__ import annotations

from portico.cli import main

if __name__ == "__main__":
    main()
