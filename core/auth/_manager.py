"""The AuthenticationManager: builds each system's ``httpx.Auth`` flow from a scheme name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from portico.auth._base import AuthContext, EmitFn, InteractiveFactor
from portico.auth._mtls import CertificateStatus, MtlsAuth
from portico.auth._oauth1 import OAuth1Scheme
from portico.auth._oauth2 import AuthorizationCodeAuth, ClientCredentialsAuth, JwtBearerAuth, RefreshTokenAuth
from portico.auth._redaction import install_log_redaction, known_secrets
from portico.auth._session import SessionAuth
from portico.auth._static import ApiKeyAuth, ApiKeyPairAuth, BasicAuth, HmacAuth, NoAuth
from portico.clock import Clock, system_clock
from portico.errors import ConfigurationError

if TYPE_CHECKING:
    from portico.auth._audit import AuditLog
    from portico.auth._vault import CredentialVault
    from portico.plugins import PluginManager

__all__ = ["BUILTIN_SCHEMES", "AuthenticationManager", "SchemeFactory"]

SchemeFactory = Callable[[AuthContext, Mapping[str, SecretStr | str], Mapping[str, Any]], httpx.Auth]
"""Builds one scheme: ``factory(ctx, credentials, options) -> httpx.Auth``. Plugins return these from
``portico_auth_schemes``."""


def _no_auth(ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> httpx.Auth:
    known_secrets.register(*credentials.values())  # tws/none credentials (a socket login) are still secrets
    return NoAuth(ctx)


BUILTIN_SCHEMES: dict[str, SchemeFactory] = {
    "none": _no_auth,
    "tws": _no_auth,
    "api_key": ApiKeyAuth,
    "api_key_pair": ApiKeyPairAuth,
    "basic": BasicAuth,
    "hmac": HmacAuth,
    "oauth2_client_credentials": ClientCredentialsAuth,
    "oauth2_authorization_code": AuthorizationCodeAuth,
    "oauth2_refresh_token": RefreshTokenAuth,
    "jwt_bearer": JwtBearerAuth,
    "oauth1": OAuth1Scheme,
    "session": SessionAuth,
    "mtls": MtlsAuth,
}


class AuthenticationManager:
    """One per runtime: turns a system's configured scheme and credentials into an ``httpx.Auth``.

    Args:
        vault: where runtime tokens are persisted (refresh tokens, OAuth 1 access tokens).
        audit: where every auth event is recorded.
        clock: time source (token expiry, HMAC timestamps, TOTP, certificate expiry).
        transport: transport for token-endpoint and session calls (tests pass the mock's).
        plugins: the plugin manager whose ``portico_auth_schemes`` hooks add schemes.
        emit: the monitor's ``emit`` (certificate expiry, auth events).
        interactive: the hook that asks a human for a factor.
        actor: who acts, for the audit log.
    """

    def __init__(
        self,
        *,
        vault: CredentialVault | None = None,
        audit: AuditLog | None = None,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        plugins: PluginManager | None = None,
        emit: EmitFn | None = None,
        interactive: InteractiveFactor | None = None,
        actor: str = "runtime",
    ) -> None:
        self.vault = vault
        self.audit = audit
        self.clock = clock or system_clock
        self.transport = transport
        self.plugins = plugins
        self.emit = emit
        self.interactive = interactive
        self.actor = actor
        self._schemes: dict[str, SchemeFactory] = dict(BUILTIN_SCHEMES)
        self._plugin_loaded = False
        self.built: dict[str, httpx.Auth] = {}
        """The auth built for each system id, most recent last."""
        install_log_redaction()

    def __repr__(self) -> str:
        return f"AuthenticationManager(schemes={len(self.schemes())}, systems={sorted(self.built)})"

    def _load_plugin_schemes(self) -> None:
        if self._plugin_loaded or self.plugins is None:
            return
        self._plugin_loaded = True
        for contribution in self.plugins.hooks.hook.portico_auth_schemes():
            for name, factory in dict(contribution or {}).items():
                if name in BUILTIN_SCHEMES:
                    raise ConfigurationError(f"a plugin tries to replace the built-in auth scheme {name!r}")
                self._schemes[name] = factory

    def register_scheme(self, name: str, factory: SchemeFactory) -> None:
        """Add a scheme by code (plugins use the ``portico_auth_schemes`` hook instead)."""
        self._schemes[name] = factory

    def schemes(self) -> list[str]:
        """Every scheme name available: built-ins and those plugins contribute."""
        self._load_plugin_schemes()
        return sorted(self._schemes)

    def context(self, system_id: str, scheme: str) -> AuthContext:
        """The :class:`AuthContext` a scheme of ``system_id`` is built with."""
        return AuthContext(
            system_id=system_id,
            scheme=scheme,
            clock=self.clock,
            audit=self.audit,
            vault=self.vault,
            transport=self.transport,
            emit=self.emit,
            interactive=self.interactive,
            actor=self.actor,
        )

    def build(
        self,
        system_id: str,
        scheme: str,
        credentials: Mapping[str, SecretStr | str],
        options: Mapping[str, Any] | None = None,
    ) -> httpx.Auth:
        """Build the auth flow for one system.

        Args:
            system_id: the configured system (named in every error and audit entry).
            scheme: a name from :meth:`schemes` (``authentication.type`` in config).
            credentials: credential values by field name (``SecretStr`` or ``str``).
            options: scheme options (header names, token URL, scopes...).

        Raises:
            ConfigurationError: unknown scheme, or a missing credential/option (named by key path).
        """
        self._load_plugin_schemes()
        factory = self._schemes.get(scheme)
        if factory is None:
            raise ConfigurationError(
                f"{system_id}: unknown auth scheme {scheme!r}; available: {', '.join(self.schemes())}",
                path=f"systems.{system_id}.authentication.type",
            )
        known_secrets.register(*[v for v in credentials.values() if isinstance(v, (str, SecretStr))])
        auth = factory(self.context(system_id, scheme), credentials, dict(options or {}))
        self.built[system_id] = auth
        return auth

    def certificates(self) -> dict[str, CertificateStatus]:
        """Re-grade every mutual-TLS client certificate built so far, reporting those near expiry.

        Meant for a periodic health check: each call emits ``auth.certificate_expiry`` to the monitor
        for certificates inside their warning window, so an expiry is flagged days ahead.
        """
        return {system: auth.report() for system, auth in self.built.items() if isinstance(auth, MtlsAuth)}
