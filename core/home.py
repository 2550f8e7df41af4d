"""Where portico keeps its state: ``PORTICO_HOME`` (default ``~/.portico``)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["portico_home"]


def portico_home(create: bool = True) -> Path:
    """The state directory: the embedded database, the credential vault, logs.

    Args:
        create: create the directory (mode 0700) when it does not exist.
    """
    path = Path(os.environ.get("PORTICO_HOME") or Path.home() / ".portico").expanduser()
    if create and not path.exists():
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
    return path
