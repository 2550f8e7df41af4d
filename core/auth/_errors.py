"""Typed errors of the credential vault and the audit log.

::

    PorticoError
    ├── AuthError                        (portico.errors) credentials refused, refresh failed
    └── VaultError                       the vault cannot be used as asked
        ├── VaultLocked                  no passphrase was given (env, argument or keyring)
        ├── VaultPassphraseError         the passphrase does not open this vault
        ├── VaultCorrupted               the file is truncated, altered or not a vault at all
        │   └── VaultUnsafeParameters    its header asks for a key-derivation cost outside portico's bounds
        ├── SecretNotFound               no secret by that name
        └── SecretRevoked                the secret was revoked and may not be used
"""

from __future__ import annotations

from typing import Any

from portico.errors import PorticoError

__all__ = [
    "SecretNotFound",
    "SecretRevoked",
    "VaultCorrupted",
    "VaultError",
    "VaultLocked",
    "VaultPassphraseError",
    "VaultUnsafeParameters",
]


class VaultError(PorticoError):
    """The credential vault cannot do what was asked. Never carries plaintext.

    Attributes:
        path: the vault file concerned.
    """

    def __init__(self, message: str, *, path: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.path = path


class VaultLocked(VaultError):
    """No passphrase: set ``PORTICO_VAULT_PASSPHRASE`` or store one in the OS keyring."""


class VaultPassphraseError(VaultError):
    """The passphrase does not open this vault."""


class VaultCorrupted(VaultError):
    """The vault file is truncated, altered, or not a portico vault; nothing of it was decrypted."""


class VaultUnsafeParameters(VaultCorrupted):
    """The vault header asks for scrypt parameters outside portico's fixed bounds; nothing was derived.

    Raised before any key derivation, so an edited header cannot make an open cost gigabytes and minutes.
    """


class SecretNotFound(VaultError):
    """No secret of that name is stored."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(f"no secret named {name!r} in the vault", **kwargs)
        self.name = name


class SecretRevoked(VaultError):
    """The secret was revoked; store a new value before using it again."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(f"secret {name!r} was revoked; store a new value with `portico credentials set`", **kwargs)
        self.name = name
