"""Authentication: the AuthenticationManager and its schemes, the credential vault, the audit log."""

from __future__ import annotations

from portico.auth._audit import AuditBreak, AuditEntry, AuditLog
from portico.auth._base import AuthContext, InteractiveFactor, OAuthToken, TokenAuth
from portico.auth._errors import (
    SecretNotFound,
    SecretRevoked,
    VaultCorrupted,
    VaultError,
    VaultLocked,
    VaultPassphraseError,
    VaultUnsafeParameters,
)
from portico.auth._manager import BUILTIN_SCHEMES, AuthenticationManager, SchemeFactory
from portico.auth._mfa import TotpGenerator
from portico.auth._mtls import CertificateStatus, MtlsAuth, certificate_status
from portico.auth._oauth1 import OAuth1Scheme
from portico.auth._oauth2 import (
    AuthorizationCodeAuth,
    ClientCredentialsAuth,
    JwtBearerAuth,
    LoopbackRedirect,
    RefreshTokenAuth,
)
from portico.auth._redaction import (
    RedactingLogFilter,
    SecretRegistry,
    install_log_redaction,
    known_secrets,
    redact,
    redact_url,
)
from portico.auth._resolver import VaultResolver, resolve_vault_reference
from portico.auth._session import SessionAuth
from portico.auth._static import ApiKeyAuth, ApiKeyPairAuth, BasicAuth, HmacAuth, NoAuth
from portico.auth._vault import CredentialVault, SecretInfo, default_vault_path

__all__ = [
    "BUILTIN_SCHEMES",
    "ApiKeyAuth",
    "ApiKeyPairAuth",
    "AuditBreak",
    "AuditEntry",
    "AuditLog",
    "AuthContext",
    "AuthenticationManager",
    "AuthorizationCodeAuth",
    "BasicAuth",
    "CertificateStatus",
    "ClientCredentialsAuth",
    "CredentialVault",
    "HmacAuth",
    "InteractiveFactor",
    "JwtBearerAuth",
    "LoopbackRedirect",
    "MtlsAuth",
    "NoAuth",
    "OAuth1Scheme",
    "OAuthToken",
    "RedactingLogFilter",
    "RefreshTokenAuth",
    "SchemeFactory",
    "SecretInfo",
    "SecretNotFound",
    "SecretRegistry",
    "SecretRevoked",
    "SessionAuth",
    "TokenAuth",
    "TotpGenerator",
    "VaultCorrupted",
    "VaultError",
    "VaultLocked",
    "VaultPassphraseError",
    "VaultResolver",
    "VaultUnsafeParameters",
    "certificate_status",
    "default_vault_path",
    "install_log_redaction",
    "known_secrets",
    "redact",
    "redact_url",
    "resolve_vault_reference",
]
