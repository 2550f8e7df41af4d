"""Multi-factor codes: TOTP (RFC 6238) from a stored seed."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.hashes import SHA1, SHA256, SHA512
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from pydantic import SecretStr

from portico.auth._redaction import reveal
from portico.clock import Clock, system_clock
from portico.errors import ConfigurationError

__all__ = ["TotpGenerator"]

_ALGORITHMS: dict[str, type[SHA1] | type[SHA256] | type[SHA512]] = {"SHA1": SHA1, "SHA256": SHA256, "SHA512": SHA512}


class TotpGenerator:
    """Time-based one-time passwords from a base32 seed (what authenticator apps scan as a QR code).

    Args:
        seed: the shared secret, base32 as issuers print it (spaces and lower case tolerated).
        clock: the time source.
        digits: code length (6 or 8).
        period: seconds per code.
        algorithm: ``SHA1`` (the common default), ``SHA256`` or ``SHA512``.

    Raises:
        ConfigurationError: the seed is not valid base32.
    """

    def __init__(
        self,
        seed: SecretStr | str,
        *,
        clock: Clock | None = None,
        digits: int = 6,
        period: int = 30,
        algorithm: str = "SHA1",
    ) -> None:
        text = (reveal(seed) or "").replace(" ", "").upper()
        try:
            key = base64.b32decode(text + "=" * (-len(text) % 8))
        except (binascii.Error, ValueError):
            raise ConfigurationError("the TOTP seed is not valid base32") from None
        if algorithm.upper() not in _ALGORITHMS:
            raise ConfigurationError(f"unsupported TOTP algorithm {algorithm!r}")
        self.clock = clock or system_clock
        self.period = period
        self._totp = TOTP(key, digits, _ALGORITHMS[algorithm.upper()](), period, enforce_key_length=False)

    def __repr__(self) -> str:
        return f"TotpGenerator(period={self.period})"

    def now(self) -> str:
        """The code valid at the clock's current time."""
        return self.at(self.clock.now().timestamp())

    def at(self, timestamp: float) -> str:
        """The code for a Unix time."""
        return self._totp.generate(int(timestamp)).decode("ascii")

    def verify(self, code: str, *, window: int = 1) -> bool:
        """Whether ``code`` matches now, or within ``window`` periods either side (clock drift)."""
        now = self.clock.now().timestamp()
        return any(self.at(now + k * self.period) == code for k in range(-window, window + 1))
