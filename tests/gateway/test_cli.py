"""``portico gateway hash-password`` and the gateway section's validation."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from portico.cli import cli
from portico.gateway import GatewayConfig, verify_password


def test_hash_password_prints_a_hash_that_verifies() -> None:
    result = CliRunner().invoke(
        cli, ["gateway", "hash-password", "--password-stdin"], input="correct horse\n"
    )
    assert result.exit_code == 0, result.output
    hashed = result.output.strip()
    assert hashed.startswith("scrypt$") and "correct horse" not in hashed
    assert verify_password("correct horse", hashed) and not verify_password("wrong", hashed)


def test_hash_password_refuses_an_empty_password() -> None:
    result = CliRunner().invoke(cli, ["gateway", "hash-password", "--password-stdin"], input="\n")
    assert result.exit_code == 2 and "must not be empty" in result.output


def test_a_user_in_an_unknown_group_is_named() -> None:
    with pytest.raises(ValidationError, match=r"users\.zed\.groups\.0: unknown group 'nope'"):
        GatewayConfig.model_validate({"users": {"zed": {"password_hash": "x", "groups": ["nope"]}}})
    with pytest.raises(ValidationError, match="tls_certfile and tls_keyfile go together"):
        GatewayConfig.model_validate({"tls_certfile": "/c.pem"})
    with pytest.raises(ValidationError, match="permission"):
        GatewayConfig.model_validate(
            {"groups": {"g": {"grants": [{"resource": "systems", "permission": "ADMIN"}]}}}
        )
