"""Where a ``file://`` export may write: only inside the allowed export roots.

A destination comes from config or the command line, so it is untrusted: ``file:///etc/x``,
``file://../..``, a percent-encoded ``%2e%2e``, a ``~`` or a link pointing out of a root must not
write anywhere the operator did not allow. The path is decoded, expanded and resolved (following
every link that already exists) before it is compared with the roots, themselves resolved.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from portico.errors import ConfigurationError
from portico.home import portico_home
from portico.jobs._sinks import file_destination

__all__ = ["confined_export_path", "default_export_roots", "export_roots"]


def default_export_roots() -> list[Path]:
    """``PORTICO_HOME/exports`` and the working directory."""
    return [portico_home(create=False) / "exports", Path.cwd()]


def export_roots(configured: Sequence[str | os.PathLike[str]] | None) -> list[Path]:
    """The roots in force: the configured ones (``~`` expanded, relative to the working directory),
    else :func:`default_export_roots`, each resolved."""
    roots = [Path(r).expanduser() for r in configured] if configured else default_export_roots()
    return [Path.cwd().joinpath(r).resolve() for r in roots]


def confined_export_path(destination: str, roots: Sequence[Path]) -> Path:
    """The resolved local path of the ``file://`` ``destination``, refused unless inside one of ``roots``.

    Args:
        destination: a ``file://`` URL (percent-encoding and ``~`` are decoded first).
        roots: resolved folders the export may write in (see :func:`export_roots`).

    Raises:
        ConfigurationError: the path is not usable, or lies outside every root.
    """
    try:
        resolved = Path.cwd().joinpath(file_destination(destination)).resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        # a NUL byte, a link loop: nothing that could be written safely
        raise ConfigurationError(f"export destination {destination!r} is not a usable path ({exc})", path="destination") from None
    if any(resolved.is_relative_to(root) for root in roots):
        return resolved
    allowed = ", ".join(str(r) for r in roots)
    raise ConfigurationError(
        f"export destination {destination!r} resolves to {resolved}, outside the allowed export roots ({allowed}); "
        "add a root to data_export.allowed_roots to allow it",
        path="destination",
    )
