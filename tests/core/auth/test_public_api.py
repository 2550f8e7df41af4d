"""Pins what ``portico.auth`` and ``portico.mocks.oauth`` export, so a change to the surface is deliberate."""

from __future__ import annotations

import portico.auth
import portico.mocks.oauth


def test_auth_exports() -> None:
    assert sorted(portico.auth.__all__) == sorted([
        "BUILTIN_SCHEMES", "ApiKeyAuth", "ApiKeyPairAuth", "AuditBreak", "AuditEntry", "AuditLog", "AuthContext",
        "AuthenticationManager", "AuthorizationCodeAuth", "BasicAuth", "CertificateStatus", "ClientCredentialsAuth",
        "CredentialVault", "HmacAuth", "InteractiveFactor", "JwtBearerAuth", "LoopbackRedirect", "MtlsAuth", "NoAuth",
        "OAuth1Scheme", "OAuthToken", "RedactingLogFilter", "RefreshTokenAuth", "SchemeFactory", "SecretInfo",
        "SecretNotFound", "SecretRegistry", "SecretRevoked", "SessionAuth", "TokenAuth", "TotpGenerator",
        "VaultCorrupted", "VaultError", "VaultLocked", "VaultPassphraseError", "VaultResolver", "VaultUnsafeParameters",
        "certificate_status",
        "default_vault_path", "install_log_redaction", "known_secrets", "redact", "redact_url",
        "resolve_vault_reference",
    ])
    for name in portico.auth.__all__:
        assert getattr(portico.auth, name) is not None


def test_vault_errors_are_portico_errors() -> None:
    from portico.errors import PorticoError

    for name in ("VaultError", "VaultLocked", "VaultPassphraseError", "VaultCorrupted", "VaultUnsafeParameters",
                 "SecretNotFound", "SecretRevoked"):
        assert issubclass(getattr(portico.auth, name), PorticoError)


def test_mock_exports() -> None:
    assert sorted(portico.mocks.oauth.__all__) == ["DEFAULT_CLIENTS", "MockAuthServer", "create_app"]
