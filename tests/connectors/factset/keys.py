"""One RSA key pair for the OAuth tests (generated once per session with joserfc; the private JWK plays the vault's)."""

from __future__ import annotations

from functools import cache
from typing import Any

from joserfc.jwk import RSAKey

CLIENT_ID = "portico-oauth-client"
USER = "PORTICO-123456"
API_KEY = "mock-api-key"


@cache
def private_jwk() -> dict[str, Any]:
    key = RSAKey.generate_key(
        2048, parameters={"kid": "portico-kid-1", "alg": "RS256", "use": "sig"}, private=True
    )
    return dict(key.as_dict(private=True))


def public_jwk() -> dict[str, Any]:
    return {k: v for k, v in private_jwk().items() if k in ("kty", "kid", "alg", "use", "n", "e")}
