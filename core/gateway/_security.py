"""Users, groups, permissions, hashed API tokens, 8-hour sessions and login rate limiting.

Passwords are checked against scrypt hashes from the configuration (``hashlib.scrypt``, constant-time
comparison). API tokens and session ids are 256-bit random values; only their SHA-256 is stored (a
random token needs no slow hash: it cannot be guessed from a dictionary), so a copy of the database
gives no usable credential. A token is ``pt_<id>_<secret>``: the id finds the row, the secret proves it.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import secrets
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa

from portico.clock import Clock
from portico.gateway._config import GatewayConfig, GrantConfig, Resource
from portico.gateway._tables import gateway_tables
from portico.store import Database

__all__ = [
    "LoginLimiter",
    "Principal",
    "SecurityStore",
    "hash_password",
    "verify_password",
]

Verb = Literal["read", "write"]
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
# a syntactically valid hash to check against when the user does not exist, so a wrong user name costs
# the same time as a wrong password (no user enumeration by timing)
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + base64.b64encode(bytes(32)).decode()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """An scrypt hash of ``password`` for ``gateway.users.NAME.password_hash``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (an scrypt hash); False for a malformed hash."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        got = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected), maxmem=2**26
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _grants_allow(grants: Iterable[GrantConfig], resource: Resource, obj: str, verb: Verb) -> bool:
    return any(
        g.resource == resource and g.permission.allows(verb) and fnmatch.fnmatchcase(obj, g.match)
        for g in grants
    )


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, through a session or an API token (whose scopes narrow the user's grants)."""

    user: str
    groups: tuple[str, ...]
    grants: tuple[GrantConfig, ...]
    via: Literal["session", "token"]
    token_id: str | None = None
    scopes: tuple[GrantConfig, ...] | None = None
    csrf: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"user:{self.user}" + (f" token:{self.token_id}" if self.token_id else "")

    def can(self, resource: Resource, obj: str, verb: Verb) -> bool:
        """Whether a group grant (and, for a token, one of its scopes) allows ``verb`` on ``resource:obj``."""
        if not _grants_allow(self.grants, resource, obj, verb):
            return False
        return self.scopes is None or _grants_allow(self.scopes, resource, obj, verb)

    def can_any(self, resource: Resource, verb: Verb) -> bool:
        """Whether any grant gives ``verb`` on some object of ``resource`` (for listing routes)."""
        mine = [g for g in self.grants if g.resource == resource and g.permission.allows(verb)]
        if self.scopes is None:
            return bool(mine)
        return bool(mine) and any(s.resource == resource and s.permission.allows(verb) for s in self.scopes)


class LoginLimiter:
    """Refuses logins after ``max_failures`` failures within ``window`` seconds, per user name and per
    client address (whichever trips first); returns how long to wait."""

    def __init__(self, clock: Clock, *, max_failures: int, window: float) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        now = self.clock.monotonic()
        q = self._failures[key]
        while q and now - q[0] >= self.window:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> float | None:
        """Seconds until a login for these keys is allowed again, or None when allowed now."""
        waits = []
        for key in keys:
            q = self._recent(key)
            if len(q) >= self.max_failures:
                waits.append(self.window - (self.clock.monotonic() - q[0]))
        return max(waits) if waits else None

    def hit(self, key: str) -> float | None:
        """Count one attempt against ``key``; returns how long to wait when it is over the limit."""
        wait = self.retry_after(key)
        if wait is None:
            self.failed(key)
        return wait

    def failed(self, *keys: str) -> None:
        """Count one failed attempt against each key."""
        now = self.clock.monotonic()
        for key in keys:
            self._recent(key).append(now)

    def succeeded(self, user_key: str) -> None:
        """Forget the user's failures (the address's stay counted)."""
        self._failures.pop(user_key, None)


class _RequestLimiter:
    """Requests per user per minute (a sliding window): the API's own rate limit."""

    def __init__(self, window: LoginLimiter) -> None:
        self.window = window

    def retry_after(self, user: str) -> float | None:
        """Count one request of ``user``; seconds to wait when over the limit, else None."""
        return self.window.hit(f"user:{user}")


class SecurityStore:
    """Checks passwords, issues and checks sessions and API tokens (hashed in the store)."""

    def __init__(self, config: GatewayConfig, db: Database, clock: Clock) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self.tables = gateway_tables()
        db.ensure_tables(*self.tables.values())
        self.limiter = LoginLimiter(
            clock, max_failures=config.login_max_failures, window=config.login_window_seconds
        )
        self.request_limiter = _RequestLimiter(
            LoginLimiter(clock, max_failures=config.requests_per_minute, window=60.0)
        )

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def grants_of(self, user: str) -> tuple[tuple[str, ...], tuple[GrantConfig, ...]]:
        """The user's groups and every grant they carry."""
        cfg = self.config.users[user]
        groups = tuple(g for g in cfg.groups if g in self.config.groups)
        grants = tuple(grant for g in groups for grant in self.config.groups[g].grants)
        return groups, grants

    def _active_user(self, user: str) -> bool:
        cfg = self.config.users.get(user)
        return cfg is not None and not cfg.disabled

    # -- passwords and sessions --------------------------------------------------------------------

    def check_password(self, user: str, password: str) -> bool:
        """Whether the user exists, is enabled and ``password`` is theirs (same cost either way)."""
        cfg = self.config.users.get(user)
        stored = cfg.password_hash.get_secret_value() if cfg is not None else _DUMMY_HASH
        ok = verify_password(password, stored)
        return ok and cfg is not None and not cfg.disabled

    def open_session(self, user: str) -> tuple[str, float]:
        """A new session id for ``user`` (give it to the client once) and when it expires."""
        session_id = secrets.token_urlsafe(32)
        now = self._now()
        expires = now + self.config.session_hours * 3600
        t = self.tables["sessions"]
        with self.db.begin() as conn:
            conn.execute(t.delete().where(t.c.expires_at <= now))  # expired sessions are not kept
            conn.execute(
                t.insert().values(id_hash=_sha256(session_id), user=user, created_at=now, expires_at=expires)
            )
        return session_id, expires

    def close_session(self, session_id: str) -> None:
        """End a session (logout)."""
        t = self.tables["sessions"]
        with self.db.begin() as conn:
            conn.execute(t.delete().where(t.c.id_hash == _sha256(session_id)))

    def session_principal(self, session_id: str) -> Principal | None:
        """The principal of a live session, or None (unknown, expired, or its user removed/disabled)."""
        t = self.tables["sessions"]
        with self.db.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.id_hash == _sha256(session_id))).mappings().first()
        if row is None or row["expires_at"] <= self._now() or not self._active_user(row["user"]):
            return None
        groups, grants = self.grants_of(row["user"])
        csrf = hmac.new(session_id.encode(), b"portico-csrf", hashlib.sha256).hexdigest()
        return Principal(row["user"], groups, grants, "session", csrf=csrf)

    # -- API tokens --------------------------------------------------------------------------------

    def create_token(
        self, user: str, name: str, scopes: list[GrantConfig], expires_in_days: int
    ) -> tuple[str, dict[str, Any]]:
        """A new API token for ``user``; returns the token (shown once) and its stored description."""
        token_id = uuid.uuid4().hex
        secret = secrets.token_urlsafe(32)
        now = self._now()
        row = {
            "id": token_id,
            "user": user,
            "name": name,
            "secret_hash": _sha256(secret),
            "scopes": json.dumps([s.model_dump(mode="json") for s in scopes], sort_keys=True),
            "created_at": now,
            "expires_at": now + expires_in_days * 86400,
            "revoked_at": None,
        }
        with self.db.begin() as conn:
            conn.execute(self.tables["tokens"].insert().values(**row))
        return f"pt_{token_id}_{secret}", self._describe(row)

    @staticmethod
    def _describe(row: Any) -> dict[str, Any]:
        return {
            "id": row["id"],
            "name": row["name"],
            "user": row["user"],
            "scopes": json.loads(row["scopes"]),
            "created_at": row["created_at"],
            "expires_at": row["expires_at"],
            "revoked": row["revoked_at"] is not None,
        }

    def list_tokens(self, user: str) -> list[dict[str, Any]]:
        """The user's tokens (never their secrets), newest first."""
        t = self.tables["tokens"]
        with self.db.begin() as conn:
            rows = (
                conn.execute(sa.select(t).where(t.c.user == user).order_by(t.c.created_at.desc()))
                .mappings()
                .all()
            )
        return [self._describe(r) for r in rows]

    def revoke_token(self, user: str, token_id: str) -> bool:
        """Revoke one of the user's tokens; False when the user has no such token."""
        t = self.tables["tokens"]
        with self.db.begin() as conn:
            result = conn.execute(
                t.update()
                .where(t.c.id == token_id, t.c.user == user, t.c.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )
        return bool(result.rowcount)

    def token_principal(self, token: str) -> Principal | None:
        """The principal of a valid API token, or None (malformed, unknown, wrong secret, expired, revoked)."""
        prefix, _, rest = token.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != "pt" or len(token_id) != 32 or not secret:
            return None
        t = self.tables["tokens"]
        with self.db.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == token_id)).mappings().first()
        if row is None or not hmac.compare_digest(row["secret_hash"], _sha256(secret)):
            return None
        if (
            row["revoked_at"] is not None
            or row["expires_at"] <= self._now()
            or not self._active_user(row["user"])
        ):
            return None
        groups, grants = self.grants_of(row["user"])
        scopes = tuple(GrantConfig.model_validate(s) for s in json.loads(row["scopes"]))
        return Principal(row["user"], groups, grants, "token", token_id=token_id, scopes=scopes)
