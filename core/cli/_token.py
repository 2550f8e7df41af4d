"""The dashboard token: printed in a box a log stream cannot break up, and kept where ``--print-token`` finds it.

A generated token lives only as long as the run that made it. While ``portico run`` serves, it is kept
in ``$PORTICO_HOME/dashboard.token`` (mode 0600, beside the vault), so ``portico run --print-token``
can show it again; the file is removed when the run stops. A configured ``monitoring.http.token`` is
never written anywhere: ``--print-token`` reads it from the configuration.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["dashboard_box", "forget_token", "keep_token", "kept_token", "token_file"]


def token_file() -> Path:
    """Where a running ``portico run`` keeps its generated dashboard token."""
    from portico.home import portico_home  # lazy: cold start

    return portico_home(create=False) / "dashboard.token"


def keep_token(token: str) -> Path:
    """Write ``token`` to :func:`token_file`, readable by this user only (created private, then renamed)."""
    from portico.home import portico_home  # lazy: cold start

    path = portico_home(create=True) / "dashboard.token"
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    os.replace(partial, path)
    return path


def kept_token() -> str | None:
    """The token a running ``portico run`` kept, or None when none runs."""
    try:
        return token_file().read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def forget_token(token: str) -> None:
    """Remove the kept token file, when it still holds ``token`` (another run may have replaced it)."""
    if kept_token() == token:
        with contextlib.suppress(OSError):
            token_file().unlink()


def dashboard_box(url: str, notes: list[str]) -> str:
    """The dashboard URL and notes in a box, as one string to print in one write.

    The URL gets a line of its own, so at 80 columns it does not wrap (a token URL is about 70
    characters); the notes are wrapped by words to the URL's width (at least 60).
    """
    import textwrap

    inner = max(len(url), 60)
    lines = ["dashboard (open it in a browser):", url, ""]
    for note in notes:
        lines += textwrap.wrap(note, inner, break_long_words=False, break_on_hyphens=False)
    inner = max(inner, *(len(line) for line in lines))
    return "\n".join(
        [
            "┌" + "─" * (inner + 2) + "┐",
            *(f"│ {line.ljust(inner)} │" for line in lines),
            "└" + "─" * (inner + 2) + "┘",
        ]
    )
