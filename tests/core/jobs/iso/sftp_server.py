"""A real SFTP server on loopback (AsyncSSH), with a generated host key and switchable faults.

The server runs its own event loop on a thread, so the code under test connects to it exactly as it
would to a custodian's server. Faults, each applied once and then cleared:

- ``drop_read_after``: abort the connection when a download reaches this many bytes;
- ``drop_write_after``: abort the connection when an upload reaches this many bytes;
- ``grow_on_read``: append these bytes to the file being downloaded (a writer still at work).
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import asyncssh


class LoopbackSftp:
    """An SFTP server rooted at ``root``, accepting ``users`` (password) and ``authorized_keys``."""

    def __init__(
        self,
        root: Path,
        *,
        users: dict[str, str] | None = None,
        authorized_keys: dict[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.users = users or {}
        self.authorized_keys = authorized_keys or {}
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.drop_read_after: int | None = None
        self.drop_write_after: int | None = None
        self.grow_on_read: bytes | None = None
        self.bytes_served = 0
        self.logins: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="loopback-sftp", daemon=True)

    def start(self) -> LoopbackSftp:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self._server = future.result(timeout=30)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _start(self) -> Any:
        return await asyncssh.create_server(
            lambda: _Server(self),
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            sftp_factory=lambda chan: _Sftp(chan, self),
        )

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def known_hosts(self, path: Path, key: Any = None) -> Path:
        """Write a known_hosts file trusting this server's key (or ``key`` instead)."""
        public = (key or self.host_key).export_public_key().decode().strip()
        path.write_text(f"[127.0.0.1]:{self.port} {public}\n")
        return path


class _Server(asyncssh.SSHServer):
    def __init__(self, owner: LoopbackSftp) -> None:
        self.owner = owner

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return bool(self.owner.users)

    def validate_password(self, username: str, password: str) -> bool:
        ok = self.owner.users.get(username) == password
        if ok:
            self.owner.logins.append(f"{username}:password")
        return ok

    def public_key_auth_supported(self) -> bool:
        return bool(self.owner.authorized_keys)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        allowed = self.owner.authorized_keys.get(username)
        ok = allowed is not None and allowed.export_public_key() == key.export_public_key()
        if ok:
            self.owner.logins.append(f"{username}:publickey")
        return ok


class _Sftp(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel, owner: LoopbackSftp) -> None:
        super().__init__(chan, chroot=str(owner.root).encode())
        self.owner = owner

    def read(self, file_obj: Any, offset: int, size: int) -> bytes:
        owner = self.owner
        if owner.grow_on_read is not None:
            extra, owner.grow_on_read = owner.grow_on_read, None
            with open(file_obj.name, "ab") as writer:
                writer.write(extra)
            # bump the modification time the way a writer's next flush would
            st = os.stat(file_obj.name)
            os.utime(file_obj.name, (st.st_atime, st.st_mtime + 5))
        limit = owner.drop_read_after
        if limit is not None and offset + size > limit:
            owner.drop_read_after = None
            self.channel.get_connection().abort()
            return b""
        data = super().read(file_obj, offset, size)
        assert isinstance(data, bytes)
        owner.bytes_served += len(data)
        return data

    def write(self, file_obj: Any, offset: int, data: bytes) -> int:
        limit = self.owner.drop_write_after
        if limit is not None and offset + len(data) > limit:
            self.owner.drop_write_after = None
            self.channel.get_connection().abort()
            return 0
        return super().write(file_obj, offset, data)  # type: ignore[return-value]
