"""SFTP as a source (pull a pattern, each file taken once) and a destination (push with an atomic rename).

A location is ``sftp://user@host:port/folder/pattern``: the last path segment is a glob when it holds
``*``, ``?`` or ``[``. The connection always verifies the server's host key against a ``known_hosts``
file: there is no setting that trusts an unknown key. The client authenticates with a private key
or a password, both held as secrets (the vault resolves them into the config) and registered with
the log redactor so they never reach a log line, an exception or a repr.

**Pull.** The folder is listed, names matching the pattern are taken in name order. A file whose
modification time is newer than ``settle_seconds`` ago, or whose size or time changed while it was
downloaded, is still being written: it is left for the next pull. A download goes to a ``.part``
file in the staging folder and resumes from its length after a dropped connection; only a complete
file (its size checked against the server's) is renamed into place. Each file taken is recorded in
the ``portico_sftp_markers`` table by (location, name, size, modification time), so a restart never
takes it again, and a corrected file under the same name (other size or time) is taken once more.

**Push.** A file is uploaded as ``.<name>.part`` beside its target, its size checked, then renamed
over the target (POSIX rename where the server offers it), so a reader on the server sees the old
file or the new one, never half of one.

AsyncSSH does the protocol; the synchronous methods run it on a private event loop (the importer
and the scheduler's workers are threads).

It is just over 600 lines because it is one transport: pull, push and the export sink share the
connection (host-key verification, key or password authentication, secrets kept from logs), the
location syntax, the server settings and the private event loop. Splitting source from destination
would leave each half importing all of that from a third module for no gain in clarity.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import posixpath
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlparse

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from portico._secrets import default_redactor
from portico.errors import AuthError, ConfigurationError, ConnectionFailed, TransportError

if TYPE_CHECKING:
    from portico.clock import Clock
    from portico.store import Database

__all__ = ["PulledFile", "SftpDestination", "SftpServer", "SftpSink", "SftpSource", "SftpUrl", "sftp_markers"]

T = TypeVar("T")
_GLOB = set("*?[")
_BLOCK = 256 * 1024

_metadata = sa.MetaData()
sftp_markers = sa.Table(
    "portico_sftp_markers",
    _metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, primary_key=True),
    sa.Column("mtime", sa.BigInteger, primary_key=True),
    sa.Column("local_path", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
)
"""What each pull took: one row per (consumer, location, name, size, mtime); a consumer is the import
that took the file (a camt.053 statement feeds both cash balances and cash movements)."""


class SftpServer(BaseModel):
    """How to reach one SFTP server (``data_import.sftp_servers[]``)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="sftp://user@host:port the settings are for (a path, when given, is ignored)"
    )
    known_hosts: str = Field(
        description="known_hosts file holding the server's host key; required: an unknown or changed key is refused"
    )
    password: SecretStr | None = Field(default=None, description="password of the user (from the vault)")
    client_key: SecretStr | None = Field(
        default=None, description="private key of the user, OpenSSH or PEM text (from the vault)"
    )
    client_key_file: str | None = Field(
        default=None, description="file holding the private key, instead of client_key"
    )
    passphrase: SecretStr | None = Field(
        default=None, description="passphrase of the private key (from the vault)"
    )
    connect_timeout_seconds: float = Field(
        default=30.0, gt=0, description="seconds to wait for the connection and login"
    )
    settle_seconds: float = Field(
        default=0.0,
        ge=0,
        description="a file modified less than this many seconds ago is still being written: left for the next pull",
    )

    @model_validator(mode="after")
    def _usable(self) -> SftpServer:
        for secret in (self.password, self.client_key, self.passphrase):
            if secret is not None:
                default_redactor().add_secret(secret)
        try:
            target = SftpUrl.parse(self.url)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        if self.password is None and self.client_key is None and self.client_key_file is None:
            raise ValueError(f"SFTP server {target.server}: give a client key or a password")
        return self


@dataclass(frozen=True)
class SftpUrl:
    """A parsed ``sftp://user@host:port/folder/pattern``."""

    user: str
    host: str
    port: int
    folder: str
    pattern: str | None

    @classmethod
    def parse(cls, url: str) -> SftpUrl:
        """Parse ``url``.

        Raises:
            ConfigurationError: not ``sftp://``, no user or host, a password in the URL, a bad port.
        """
        parsed = urlparse(url)
        if parsed.scheme != "sftp":
            raise ConfigurationError(f"not an sftp:// location: {_safe(url)!r}", path="source")
        if parsed.password is not None:
            raise ConfigurationError(
                "an sftp:// location must not carry a password: put it in the vault (sftp_servers[].password)",
                path="source",
            )
        if not parsed.username or not parsed.hostname:
            raise ConfigurationError(
                f"an sftp:// location needs a user and a host (sftp://user@host:port/path), got {_safe(url)!r}",
                path="source",
            )
        try:
            port = parsed.port or 22
        except ValueError:
            raise ConfigurationError(f"bad port in {_safe(url)!r}", path="source") from None
        path = unquote(parsed.path) or "/"
        head, tail = posixpath.split(path)
        if tail and _GLOB & set(tail):
            return cls(unquote(parsed.username), parsed.hostname, port, head or "/", tail)
        return cls(unquote(parsed.username), parsed.hostname, port, path, None)

    @property
    def server(self) -> str:
        """``user@host:port``."""
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def location(self) -> str:
        """The URL without its pattern: what markers are kept under."""
        return f"sftp://{self.server}{self.folder}"


def _safe(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return url.replace(f":{parsed.password}@", ":***@")


@dataclass(frozen=True)
class PulledFile:
    """A remote file brought into the staging folder."""

    location: str
    name: str
    size: int
    mtime: int
    local_path: Path


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, even on a thread whose loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=work, name="portico-sftp")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class _Connection:
    """One verified, authenticated SSH connection with its SFTP client."""

    def __init__(self, server: SftpServer, target: SftpUrl) -> None:
        self.server = server
        self.target = target
        self.conn: Any = None
        self.sftp: Any = None

    async def __aenter__(self) -> _Connection:
        import asyncssh

        known_hosts = Path(self.server.known_hosts).expanduser()
        if not known_hosts.is_file():
            raise ConfigurationError(
                f"known_hosts file {str(known_hosts)!r} does not exist: portico does not connect to a server whose key it cannot verify",
                path="sftp_servers.known_hosts",
            )
        keys: list[Any] = []
        passphrase = self.server.passphrase.get_secret_value() if self.server.passphrase else None
        try:
            if self.server.client_key is not None:
                keys.append(
                    asyncssh.import_private_key(self.server.client_key.get_secret_value(), passphrase)
                )
            elif self.server.client_key_file is not None:
                keys.append(asyncssh.read_private_key(self.server.client_key_file, passphrase))
        except (asyncssh.KeyImportError, OSError) as exc:
            raise ConfigurationError(
                f"the client key of {self.target.server} cannot be read: {type(exc).__name__}",
                path="sftp_servers.client_key",
            ) from None
        try:
            self.conn = await asyncio.wait_for(
                asyncssh.connect(
                    self.target.host,
                    self.target.port,
                    username=self.target.user,
                    known_hosts=str(known_hosts),
                    client_keys=keys or None,
                    password=self.server.password.get_secret_value() if self.server.password else None,
                    agent_path=None,
                    config=None,
                    preferred_auth=("publickey", "password") if keys else ("password",),
                ),
                timeout=self.server.connect_timeout_seconds,
            )
            self.sftp = await self.conn.start_sftp_client()
        except asyncssh.HostKeyNotVerifiable as exc:
            raise AuthError(
                f"host key of {self.target.host}:{self.target.port} is not the one in {known_hosts}: refused ({exc.reason})"
            ) from None
        except asyncssh.PermissionDenied:
            raise AuthError(f"SFTP login refused for {self.target.server}") from None
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise ConnectionFailed(
                f"cannot connect to SFTP server {self.target.server}: {type(exc).__name__}: {_reason(exc)}"
            ) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sftp is not None:
            self.sftp.exit()
        if self.conn is not None:
            self.conn.close()
            with contextlib.suppress(Exception):
                await self.conn.wait_closed()


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", "") or exc or type(exc).__name__)


def _servers(servers: SftpServer | Sequence[SftpServer]) -> list[SftpServer]:
    return [servers] if isinstance(servers, SftpServer) else list(servers)


def _server_for(servers: list[SftpServer], target: SftpUrl) -> SftpServer:
    for server in servers:
        if SftpUrl.parse(server.url).server == target.server:
            return server
    known = ", ".join(SftpUrl.parse(s.url).server for s in servers) or "none"
    raise ConfigurationError(
        f"no sftp_servers entry for {target.server} (configured: {known})", path="data_import.sftp_servers"
    )


def _transfer_failed(what: str, exc: BaseException) -> TransportError:
    return ConnectionFailed(f"{what}: {type(exc).__name__}: {_reason(exc)}")


class SftpSource:
    """Pulls new files from SFTP locations into a staging folder, each file once.

    Args:
        db: the store holding the marker table.
        clock: time source (the settle check compares modification times with it).
        staging: folder the files are downloaded into (``<portico home>/inbox/sftp`` by default).
        servers: the servers' settings; a location uses the entry of its ``user@host:port``.
        consumer: whose markers these are (each consumer takes each file once).
    """

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        staging: Path,
        servers: SftpServer | Sequence[SftpServer],
        consumer: str = "default",
    ) -> None:
        self.consumer = consumer
        self.db = db
        self.clock = clock
        self.staging = staging
        self.servers = _servers(servers)
        _metadata.create_all(db.engine, checkfirst=True)

    def pull(self, url: str) -> list[PulledFile]:
        """New complete files of ``url`` (``sftp://user@host:port/folder/pattern``), downloaded; see :meth:`pull_async`."""
        return _run(self.pull_async(url))

    async def pull_async(self, url: str) -> list[PulledFile]:
        """Download the files of ``url`` not taken before and not still being written.

        Raises:
            AuthError: the host key is unknown or changed, or the login is refused.
            ConnectionFailed: the server cannot be reached, or the connection dropped (a partial
                download is kept and resumed by the next pull).
        """
        target = SftpUrl.parse(url)
        server = _server_for(self.servers, target)
        pulled: list[PulledFile] = []
        async with _Connection(server, target) as c:
            target = await _file_or_folder(c, target)
            taken = self._taken(target.location)
            folder = (
                self.staging
                / self.consumer
                / f"{target.host}_{target.port}"
                / (target.folder.strip("/").replace("/", "_") or "_")
            )
            folder.mkdir(parents=True, exist_ok=True)
            try:
                entries = await c.sftp.readdir(target.folder)
            except Exception as exc:
                raise _transfer_failed(f"cannot list {target.location}", exc) from None
            now = self.clock.now().timestamp()
            for entry in sorted(entries, key=lambda e: e.filename):
                name = entry.filename
                if name in (".", "..") or name.startswith(".") or not _is_file(entry):
                    continue
                if target.pattern is not None and not fnmatch.fnmatchcase(name, target.pattern):
                    continue
                size, mtime = int(entry.attrs.size or 0), int(entry.attrs.mtime or 0)
                if (name, size, mtime) in taken:
                    continue
                if server.settle_seconds and now - mtime < server.settle_seconds:
                    continue
                local = folder / name
                if not await self._download(c, posixpath.join(target.folder, name), local, size, mtime):
                    continue
                pulled.append(PulledFile(target.location, name, size, mtime, local))
        return pulled

    async def _download(self, c: _Connection, remote: str, local: Path, size: int, mtime: int) -> bool:
        """Fetch ``remote`` into ``local`` (resuming a ``.part``); False when the file is still changing."""
        part = local.with_name(local.name + ".part")
        offset = part.stat().st_size if part.exists() else 0
        if offset > size:
            # the remote file shrank since the partial download: start over
            part.unlink()
            offset = 0
        try:
            async with c.sftp.open(remote, "rb") as handle:
                await handle.seek(offset)
                with part.open("ab") as out:
                    while offset < size:
                        block = await handle.read(min(_BLOCK, size - offset))
                        if not block:
                            break
                        out.write(block)
                        offset += len(block)
            after = await c.sftp.stat(remote)
        except Exception as exc:
            raise _transfer_failed(
                f"download of {remote} from {c.target.server} interrupted at byte {offset} (resumed by the next pull)",
                exc,
            ) from None
        if int(after.size or 0) != size or int(after.mtime or 0) != mtime or offset != size:
            # still being written: what was read may be a prefix of something else, so drop it
            part.unlink(missing_ok=True)
            return False
        part.replace(local)
        return True

    def _taken(self, location: str) -> set[tuple[str, int, int]]:
        with self.db.begin() as conn:
            rows = conn.execute(
                sa.select(sftp_markers.c.name, sftp_markers.c.size, sftp_markers.c.mtime).where(
                    sftp_markers.c.consumer == self.consumer, sftp_markers.c.location == location
                )
            ).all()
        return {(r.name, int(r.size), int(r.mtime)) for r in rows}

    def mark(self, file: PulledFile, status: str) -> None:
        """Record ``file`` as taken (``status``: the import's outcome), so no later pull takes it again."""
        with self.db.begin() as conn:
            key = (
                sftp_markers.c.consumer == self.consumer,
                sftp_markers.c.location == file.location,
                sftp_markers.c.name == file.name,
                sftp_markers.c.size == file.size,
                sftp_markers.c.mtime == file.mtime,
            )
            conn.execute(sftp_markers.delete().where(*key))
            conn.execute(
                sftp_markers.insert().values(
                    consumer=self.consumer,
                    location=file.location,
                    name=file.name,
                    size=file.size,
                    mtime=file.mtime,
                    local_path=str(file.local_path),
                    status=status,
                    taken_at=self.clock.now(),
                )
            )

    def markers(self, location: str | None = None) -> list[dict[str, Any]]:
        """The marker rows (of one location, or all), by name."""
        stmt = (
            sa.select(sftp_markers)
            .where(sftp_markers.c.consumer == self.consumer)
            .order_by(sftp_markers.c.location, sftp_markers.c.name, sftp_markers.c.mtime)
        )
        if location is not None:
            stmt = stmt.where(sftp_markers.c.location == location)
        with self.db.begin() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings().all()]

    def pull_and_import(self, url: str, handle: Callable[[PulledFile], str]) -> list[tuple[PulledFile, str]]:
        """Pull ``url`` and hand each new file to ``handle`` (returns a status); each is marked after it."""
        done: list[tuple[PulledFile, str]] = []
        for file in self.pull(url):
            status = handle(file)
            self.mark(file, status)
            done.append((file, status))
        return done


async def _file_or_folder(c: _Connection, target: SftpUrl) -> SftpUrl:
    """``target`` as folder and pattern: a path without glob characters that is not a folder names one file."""
    import asyncssh

    if target.pattern is not None:
        return target
    try:
        attrs = await c.sftp.stat(target.folder)
        is_folder = attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY
    except asyncssh.SFTPNoSuchFile:
        is_folder = False  # a file not delivered yet: its folder is listed and nothing matches
    except Exception as exc:
        raise _transfer_failed(f"cannot stat {target.location}", exc) from None
    if is_folder:
        return target
    head, tail = posixpath.split(target.folder.rstrip("/"))
    return SftpUrl(target.user, target.host, target.port, head or "/", tail)


def _is_file(entry: Any) -> bool:
    import stat

    permissions = entry.attrs.permissions
    return permissions is None or stat.S_ISREG(permissions)


class SftpDestination:
    """Pushes files to SFTP locations with an atomic rename.

    Args:
        servers: the servers' settings; a location uses the entry of its ``user@host:port``.
    """

    def __init__(self, servers: SftpServer | Sequence[SftpServer]) -> None:
        self.servers = _servers(servers)

    def push(self, local: Path, url: str, name: str | None = None) -> str:
        """Upload ``local`` into the folder of ``url`` as ``name`` (default: its own name); the remote path."""
        return _run(self.push_async(local, url, name))

    async def push_async(self, local: Path, url: str, name: str | None = None) -> str:
        """See :meth:`push`.

        Raises:
            AuthError: host key or login refused.
            ConnectionFailed: the upload did not complete (the target is untouched).
        """
        target = SftpUrl.parse(url)
        if target.pattern is not None:
            raise ConfigurationError(
                f"an sftp:// destination is a folder or a file, not a pattern: {url!r}", path="destination"
            )
        server = _server_for(self.servers, target)
        async with _Connection(server, target) as c:
            if name:
                folder = (
                    target.folder
                    if target.folder.endswith("/")
                    else (posixpath.dirname(target.folder) or "/")
                )
                final = name
            else:
                folder, final = _split_target(c, target, local)
            remote = posixpath.join(folder, final)
            temp = posixpath.join(folder, f".{final}.part")
            size = local.stat().st_size
            try:
                await c.sftp.put(str(local), temp)
                stat = await c.sftp.stat(temp)
                if int(stat.size or 0) != size:
                    raise OSError(f"uploaded {stat.size} bytes of {size}")
                await _rename_over(c.sftp, temp, remote)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await c.sftp.remove(temp)
                raise _transfer_failed(
                    f"upload of {local.name} to {target.location} failed (the target is unchanged)", exc
                ) from None
            return remote


def _split_target(c: _Connection, target: SftpUrl, local: Path) -> tuple[str, str]:
    # sftp://.../folder/ (trailing slash) names a folder; sftp://.../folder/file.xml a file
    if target.folder.endswith("/"):
        return target.folder, local.name
    head, tail = posixpath.split(target.folder)
    return head or "/", tail or local.name


async def _rename_over(sftp: Any, temp: str, remote: str) -> None:
    try:
        await sftp.posix_rename(temp, remote)
    except Exception:
        # a server without the POSIX rename extension: SFTPv3 rename refuses an existing target
        with contextlib.suppress(Exception):
            await sftp.remove(remote)
        await sftp.rename(temp, remote)


class SftpSink:
    """``sftp://user@host:port/folder/file.ext``: the load's records written as one file and pushed at commit.

    The file is rendered locally in the format of its extension (or the ``format`` option), then
    uploaded and renamed into place (:class:`SftpDestination`), so the server holds the previous
    load's file or this one, never a part; an aborted load uploads nothing.
    """

    name = "sftp"

    def __init__(self, servers: SftpServer | Sequence[SftpServer]) -> None:
        self.destination = SftpDestination(servers)

    def matches(self, destination: str) -> bool:
        return destination.startswith("sftp://")

    def open(self, ctx: Any) -> Any:
        return _SftpSession(ctx, self.destination)


class _SftpSession:
    def __init__(self, ctx: Any, destination: SftpDestination) -> None:
        import tempfile

        self.ctx = ctx
        self.destination = destination
        self.target = SftpUrl.parse(ctx.destination)
        if self.target.pattern is not None or not posixpath.basename(self.target.folder):
            raise ConfigurationError(
                f"an sftp:// destination names a file (sftp://user@host/folder/file.csv), got {ctx.destination!r}",
                path="destination",
            )
        self.name = posixpath.basename(self.target.folder)
        self._dir = Path(tempfile.mkdtemp(prefix="portico-sftp-"))
        self.spool = self._dir / "rows.jsonl"
        self._handle = self.spool.open("w", encoding="utf-8")
        self.count = 0

    def back_out(self, previous_load_id: str) -> None:
        return None  # the remote file is replaced whole at commit

    def write(self, rows: Sequence[tuple[Any, ...]], lines: Sequence[int]) -> None:
        import json

        fields = self.ctx.rt.fields
        for row in rows:
            self._handle.write(json.dumps(dict(zip(fields, row, strict=True)), default=str) + "\n")
        self.count += len(rows)

    def loaded_count(self) -> int:
        return self.count

    def commit(self) -> None:
        import json
        import shutil

        self._handle.close()
        local = self._dir / self.name
        try:
            fmt = self.ctx.formats.for_path(local, self.ctx.options.get("format"))

            def rows() -> Any:
                with self.spool.open(encoding="utf-8") as handle:
                    for line in handle:
                        yield json.loads(line)

            with local.open("wb") as out:
                fmt.write(rows(), list(self.ctx.rt.fields), out, self.ctx.options)
            self.destination.push(
                local, f"sftp://{self.target.server}{posixpath.dirname(self.target.folder)}/", self.name
            )
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def abort(self) -> None:
        import shutil

        self._handle.close()
        shutil.rmtree(self._dir, ignore_errors=True)
