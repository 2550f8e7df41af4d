"""Finding the FIX 4.4 data dictionary QuickFIX validates every message against.

The quickfix package installs the engine but not its data dictionaries; ``FIX44.xml`` ships in the
quickfix source archive (``quickfix-<version>/spec/FIX44.xml``). :func:`install_from_archive` copies it
out of that archive to ``$PORTICO_HOME/fix/FIX44.xml``, where :func:`data_dictionary` finds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

from portico.errors import ConfigurationError
from portico.home import portico_home

__all__ = ["ENV_VAR", "data_dictionary", "fetch_data_dictionary", "install_from_archive"]

ENV_VAR = "PORTICO_FIX_DATA_DICTIONARY"
_NAME = "FIX44.xml"


def _default() -> Path:
    return portico_home(create=False) / "fix" / _NAME


def data_dictionary(configured: str | None = None) -> str:
    """The path of FIX44.xml: ``configured`` (``connection.data_dictionary``), else ``$PORTICO_FIX_DATA_DICTIONARY``,
    else ``$PORTICO_HOME/fix/FIX44.xml``.

    Raises:
        ConfigurationError: none of them is a readable file (says how to install one).
    """
    candidates = [
        (configured, "connection.data_dictionary"),
        (os.environ.get(ENV_VAR), ENV_VAR),
        (str(_default()), None),
    ]
    for value, where in candidates:
        if not value:
            continue
        path = Path(value).expanduser()
        if path.is_file():
            return str(path)
        if where is not None:
            raise ConfigurationError(f"{where}: the FIX data dictionary {value!r} is not a file")
    raise ConfigurationError(
        f"no FIX 4.4 data dictionary: set connection.data_dictionary or {ENV_VAR}, or install FIX44.xml to "
        f"{_default()} from the quickfix source archive (portico.connectors.fix.dictionary.install_from_archive, "
        "or fetch_data_dictionary() to download the archive of the installed quickfix with pip)"
    )


def install_from_archive(archive: str | Path, destination: str | Path | None = None) -> Path:
    """Copy ``spec/FIX44.xml`` out of a quickfix source archive (``quickfix-1.16.0.tar.gz``).

    Args:
        archive: the source archive.
        destination: where to write it (default ``$PORTICO_HOME/fix/FIX44.xml``).

    Raises:
        ConfigurationError: the archive is unreadable or holds no spec/FIX44.xml.
    """
    target = Path(destination) if destination is not None else portico_home() / "fix" / _NAME
    try:
        with tarfile.open(archive, "r:*") as tar:
            member = next(
                (m for m in tar.getmembers() if m.isfile() and m.name.endswith(f"/spec/{_NAME}")), None
            )
            if member is None:
                raise ConfigurationError(f"{archive}: no spec/{_NAME} in the archive")
            source = tar.extractfile(member)
            assert source is not None
            data = source.read()
    except (OSError, tarfile.TarError) as exc:
        raise ConfigurationError(f"{archive}: cannot read the quickfix archive: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def fetch_data_dictionary(cache: str | Path | None = None) -> Path:
    """FIX44.xml from the source archive of the installed quickfix version, fetched once with pip.

    The archive is downloaded (``pip download --no-binary :all: --no-deps quickfix==<version>``) into
    ``cache`` (default ``~/.cache/portico/fix``) and the dictionary kept beside it; later calls read
    the cached file without touching the network.

    Raises:
        ConfigurationError: quickfix is not installed, or the archive could not be fetched or read.
    """
    folder = Path(cache).expanduser() if cache is not None else Path.home() / ".cache" / "portico" / "fix"
    try:
        version = metadata.version("quickfix")
    except metadata.PackageNotFoundError:
        raise ConfigurationError("quickfix is not installed: pip install 'portico[fix]'") from None
    target = folder / f"FIX44-{version}.xml"
    if target.is_file():
        return target
    archive = folder / f"quickfix-{version}.tar.gz"
    if not archive.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        command += ["-d", str(folder), f"quickfix=={version}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0 or not archive.is_file():
            raise ConfigurationError(
                f"could not fetch the quickfix {version} source archive: {done.stderr.strip()[-500:]}"
            )
    return install_from_archive(archive, target)
