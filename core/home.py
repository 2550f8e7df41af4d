"""Where portico keeps its state: ``PORTICO_HOME`` (default ``~/.portico``), and keeping it private.

Everything portico writes there (the database with its audit log, order reject reasons and idempotency
keys; the vault; logs) is created mode 0600, and directories 0700, whatever the umask or the mode of a
home that already existed. A home other users can read is warned about, once per process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = ["make_private", "portico_home", "private_dir", "private_file"]

log = logging.getLogger("portico.home")

_warned: set[Path] = set()


def portico_home(create: bool = True) -> Path:
    """The state directory: the embedded database, the credential vault, logs.

    Args:
        create: create the directory (mode 0700) when it does not exist.
    """
    path = Path(os.environ.get("PORTICO_HOME") or Path.home() / ".portico").expanduser()
    if create and not path.exists():
        private_dir(path)
    elif path not in _warned and path.is_dir():
        _warn_if_shared(path)
    return path


def _warn_if_shared(path: Path) -> None:
    _warned.add(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        log.warning("PORTICO_HOME %s is readable by other users (mode %04o): run `chmod 700 %s`", path, mode, path)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 directories; an existing one is left as it is."""
    if path.is_dir():
        return path
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdir's mode is filtered by the umask; a umask never adds bits, but be exact.
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def make_private(path: Path) -> None:
    """Make an existing file of ours 0600 (files written by older versions, or by SQLite, were 0644)."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if stat.S_IMODE(path.stat().st_mode) != 0o600:
            path.chmod(0o600)


def private_file(path: Path) -> Path:
    """Create ``path`` empty as a 0600 file if it does not exist (its directory 0700), else make it 0600."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        make_private(path)
    else:
        os.close(fd)
    return path


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created 0600) for the block: one writer across processes."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
