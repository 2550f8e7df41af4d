"""``portico credentials``: values in through stdin only, out only with --reveal, every step audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from portico.auth import AuditLog, CredentialVault
from portico.mocks import RunningMock
from portico.store import Database

SECRET = "PK-CLI-CANARY-9f8e7d6c"


def _cli(*args: str, stdin: str = "", passphrase: str | None = "cli-passphrase") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PORTICO_VAULT_PASSPHRASE", None)
    if passphrase is not None:
        env["PORTICO_VAULT_PASSPHRASE"] = passphrase
    return subprocess.run([sys.executable, "-m", "portico.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


def test_set_get_list_rotate_delete(portico_home: Path) -> None:
    result = _cli("credentials", "set", "alpaca/api_key", stdin=SECRET + "\n")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr

    hidden = _cli("credentials", "get", "alpaca/api_key")
    assert hidden.returncode == 0 and SECRET not in hidden.stdout and "--reveal" in hidden.stdout
    shown = _cli("credentials", "get", "alpaca/api_key", "--reveal")
    assert shown.stdout.strip() == SECRET

    listing = _cli("credentials", "list")
    assert "alpaca/api_key" in listing.stdout and SECRET not in listing.stdout
    as_json = json.loads(_cli("credentials", "list", "--json").stdout)
    assert as_json[0]["name"] == "alpaca/api_key" and as_json[0]["version"] == 1

    # per-secret rotation: staged beside the current value, promoted after verification
    assert _cli("credentials", "rotate", "alpaca/api_key", stdin="PK-NEW-VALUE-123456\n").returncode == 0
    assert _cli("credentials", "get", "alpaca/api_key", "--reveal").stdout.strip() == SECRET
    assert "rotation staged" in _cli("credentials", "list").stdout
    assert _cli("credentials", "rotate", "alpaca/api_key", "--promote").returncode == 0
    assert _cli("credentials", "get", "alpaca/api_key", "--reveal").stdout.strip() == "PK-NEW-VALUE-123456"

    # passphrase rotation
    assert _cli("credentials", "rotate", stdin="second-passphrase\n").returncode == 0
    old = _cli("credentials", "list")
    assert old.returncode == 1 and "passphrase does not open" in old.stderr
    assert "Traceback" not in old.stderr
    assert _cli("credentials", "list", passphrase="second-passphrase").returncode == 0

    assert _cli("credentials", "revoke", "alpaca/api_key", passphrase="second-passphrase").returncode == 0
    revoked = _cli("credentials", "get", "alpaca/api_key", "--reveal", passphrase="second-passphrase")
    assert revoked.returncode == 1 and "revoked" in revoked.stderr
    assert _cli("credentials", "delete", "alpaca/api_key", "--yes", passphrase="second-passphrase").returncode == 0
    missing = _cli("credentials", "get", "alpaca/api_key", passphrase="second-passphrase")
    assert missing.returncode == 1 and "no secret named" in missing.stderr

    actions = [e.action for e in AuditLog(Database()).entries()]
    assert "credential.write" in actions and "credential.read" in actions and "credential.revoke" in actions
    assert "credential.rotate" in actions and "credential.delete" in actions
    assert _cli("audit", "verify").returncode == 0
    assert SECRET.encode() not in (portico_home / "portico.db").read_bytes()


def test_value_is_never_an_argument_and_missing_passphrase_is_clear(portico_home: Path) -> None:
    extra = _cli("credentials", "set", "a/b", SECRET)
    assert extra.returncode != 0  # no positional value accepted
    empty = _cli("credentials", "set", "a/b", stdin="")
    assert empty.returncode != 0 and "no value" in empty.stderr
    locked = _cli("credentials", "list", passphrase=None)
    assert locked.returncode == 1 and "PORTICO_VAULT_PASSPHRASE" in locked.stderr


def test_corrupted_vault_file_is_reported_not_overwritten(portico_home: Path) -> None:
    vault = CredentialVault(portico_home / "vault.bin", "cli-passphrase", log2_n=10)
    vault.set("a/key", "secret-value-1")
    blob = bytearray((portico_home / "vault.bin").read_bytes())
    blob[-3] ^= 0x40
    (portico_home / "vault.bin").write_bytes(bytes(blob))
    result = _cli("credentials", "set", "a/other", stdin="another-value\n")
    assert result.returncode == 1 and "damaged" in result.stderr
    assert (portico_home / "vault.bin").read_bytes() == bytes(blob)


@pytest.mark.parametrize("name", ["credentials", "audit"])
def test_listed_in_help(name: str) -> None:
    assert name in _cli("--help").stdout


def test_login_runs_the_browser_flow_and_stores_the_token(portico_home: Path, oauth_mock: RunningMock) -> None:
    config = portico_home / "portico.yaml"
    config.write_text(
        "systems:\n"
        "  broker:\n"
        "    type: brokerage\n"
        "    authentication:\n"
        "      type: oauth2_authorization_code\n"
        "      credentials:\n"
        "        client_id: portico-public\n"
        "      options:\n"
        f"        authorize_url: {oauth_mock.base_url}/authorize\n"
        f"        token_url: {oauth_mock.base_url}/token\n"
    )
    env = {**os.environ, "PORTICO_VAULT_PASSPHRASE": "cli-passphrase"}
    proc = subprocess.Popen([sys.executable, "-m", "portico.cli", "credentials", "login", "broker", "--config",
                             str(config), "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        url = lines[1].strip()
        assert url.startswith(f"{oauth_mock.base_url}/authorize?") and "code_challenge=" in url, lines
        httpx.get(url, follow_redirects=True, timeout=10)  # the user's browser
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "signed in" in out
    vault = CredentialVault(portico_home / "vault.bin", "cli-passphrase")
    assert "broker/oauth_token" in vault.names()
    assert json.loads(vault.get("broker/oauth_token").get_secret_value())["refresh_token"]
