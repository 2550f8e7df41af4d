"""Resolving ``${vault:NAME}`` references in configuration."""

from __future__ import annotations

from portico.auth._errors import VaultError
from portico.auth._vault import CredentialVault
from portico.errors import ConfigurationError

__all__ = ["VaultResolver", "resolve_vault_reference"]


class VaultResolver:
    """A callable for the config loader's ``resolvers={"vault": VaultResolver()}``.

    Opens the vault lazily on the first reference (so configs without vault references need no
    passphrase) and keeps it open.

    Args:
        vault: the vault to read; default the one under ``PORTICO_HOME`` with the environment's passphrase.
    """

    def __init__(self, vault: CredentialVault | None = None) -> None:
        self._vault = vault

    def __repr__(self) -> str:
        return f"VaultResolver({self._vault!r})"

    @property
    def vault(self) -> CredentialVault:
        """The vault, opened on first use."""
        if self._vault is None:
            self._vault = CredentialVault()
        return self._vault

    def __call__(self, ref: str) -> str:
        """The plain value of vault entry ``ref`` (``alpaca/api_key``).

        Raises:
            ConfigurationError: the entry is missing or revoked, or the vault cannot be opened; the
                message names the reference and what to do.
        """
        name = ref.strip()
        try:
            return self.vault.get(name).get_secret_value()
        except VaultError as exc:
            raise ConfigurationError(f"cannot resolve ${{vault:{name}}}: {exc.message}", path=name) from None


_default: dict[tuple[str, str, str], VaultResolver] = {}


def resolve_vault_reference(ref: str, *, vault: CredentialVault | None = None) -> str:
    """The value of one ``${vault:ref}`` reference (see :class:`VaultResolver`).

    Without ``vault``, the default vault is opened once per (PORTICO_HOME, passphrase) and reused, so
    a configuration with many references derives the key once.
    """
    if vault is not None:
        return VaultResolver(vault)(ref)
    import hashlib
    import os

    from portico.auth._vault import PASSPHRASE_ENV, default_vault_path

    key = (
        str(default_vault_path()),
        hashlib.sha256(os.environ.get(PASSPHRASE_ENV, "").encode()).hexdigest(),
        os.environ.get("PORTICO_HOME", ""),
    )
    resolver = _default.get(key)
    if resolver is None:
        resolver = _default[key] = VaultResolver()
    return resolver(ref)
