"""Live systems speak TLS: the check behind ``config validate`` and the runtime's connect.

A system that is not a mock must reach its venue over ``https://``/``wss://``. Plain ``http://`` and
``ws://`` are refused, and so is a plain TCP socket (the TWS API, ``tcp://``) to a host other than this
machine: on loopback (``127.0.0.0/8``, ``::1``, ``localhost``) the bytes never leave the host, which is
how TWS and IB Gateway are normally run, so loopback sockets are allowed. ``allow_insecure: true`` on a
system opts it out, for a lab venue behind a VPN, say. Mocks (``mock: true``) are exempt: they are
served by portico itself on loopback.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import ValidationError

from portico.config._models import SystemConfig
from portico.config._problems import Problem
from portico.errors import ConfigurationError
from portico.sdk import ConnectorSpec

__all__ = ["insecure_transport_problems", "require_secure_transport"]

_TLS_SCHEMES = frozenset({"https", "wss"})
_PLAIN_WEB = {"http": "https", "ws": "wss"}


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_transport_problems(system_id: str, system: SystemConfig, spec: ConnectorSpec) -> list[Problem]:
    """Where a non-mock system would connect without TLS, as ``(key path, message)``.

    Empty for mocks, for ``allow_insecure: true`` and when the environment or connection settings are
    themselves invalid (those problems are reported where they are).
    """
    if system.mock or system.allow_insecure:
        return []
    try:
        environment = spec.environment(system.environment)
        settings = spec.connection_settings.model_validate(system.connection)
    except (KeyError, ValidationError):
        return []
    base = f"systems.{system_id}"
    declared = dict(environment.urls)
    problems: list[Problem] = []
    for key, url in sorted(settings.endpoints(declared).items()):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in _TLS_SCHEMES:
            continue
        if scheme in _PLAIN_WEB:
            fix = f"use {_PLAIN_WEB[scheme]}://"
        elif _is_loopback(parts.hostname):
            continue  # a plain socket to this machine (TWS / IB Gateway run locally)
        else:
            fix = "connect through a TLS tunnel on this machine (host 127.0.0.1)"
        if url == declared.get(key):
            where = f"{base}.environment" if system.environment else base
            origin = f"environment {environment.name!r} URL {key!r}"
        elif settings.base_url and url == settings.base_url:
            where, origin = f"{base}.connection.base_url", "connection.base_url"
        else:
            moved = next((k for k in ("host", "port") if k in system.connection), None)
            where = f"{base}.connection.{moved}" if moved else f"{base}.connection"
            origin = f"connection.{moved or key}"
        problems.append(
            (
                where,
                f"{origin} is not encrypted ({scheme}://{parts.hostname or ''}) on a system that is not a mock; "
                f"{fix}, or set allow_insecure: true on this system",
            )
        )
    return problems


def require_secure_transport(system_id: str, system: SystemConfig, spec: ConnectorSpec) -> None:
    """Refuse to connect a non-mock system over plain HTTP, WS or a remote plain socket.

    Raises:
        ConfigurationError: naming the system and the key path (the first problem; all are attached).
    """
    problems = insecure_transport_problems(system_id, system, spec)
    if problems:
        path, message = problems[0]
        raise ConfigurationError(
            f"refusing to connect {system_id}: {path}: {message}", path=path, system=system_id, problems=problems
        )
