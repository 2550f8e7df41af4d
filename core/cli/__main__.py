"""``python -m portico.cli``."""

from __future__ import annotations

from portico.cli import main

main()
