"""``portico credentials login etrade``: the plugin's own auth scheme is found by the command line, the
three legs run against the mock (oob: the verifier is typed in), and the token lands in the vault."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from portico.auth import CredentialVault
from portico.mocks import RunningMock, start_mock
from portico.mocks.etrade import create_app


@pytest.fixture
def running() -> Iterator[RunningMock]:
    server = start_mock(create_app(seed=1))
    try:
        yield server
    finally:
        server.stop_sync()


def test_login_through_the_command_line_stores_the_access_token(tmp_path: Path, running: RunningMock) -> None:
    home = tmp_path / "home"
    home.mkdir()
    base = running.base_url.rstrip("/")
    config = tmp_path / "portico.yaml"
    config.write_text(
        "systems:\n"
        "  etrade:\n"
        "    type: brokerage\n"
        "    environment: sandbox\n"
        "    authentication:\n"
        "      type: etrade_oauth1\n"
        "      credentials:\n"
        "        consumer_key: etrade-mock-consumer-key\n"
        "        consumer_secret: etrade-mock-consumer-secret\n"
        "      options:\n"
        f"        request_token_url: {base}/oauth/request_token\n"
        f"        authorize_url: {base}/e/t/etws/authorize\n"
        f"        access_token_url: {base}/oauth/access_token\n"
    )
    env = {**os.environ, "PORTICO_HOME": str(home), "PORTICO_VAULT_PASSPHRASE": "cli-passphrase"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "portico.cli", "credentials", "login", "etrade", "--config", str(config), "--no-browser"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdin is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        url = lines[1].strip()
        assert url.startswith(f"{base}/e/t/etws/authorize?key=etrade-mock-consumer-key&token="), lines
        page = httpx.get(url, timeout=10)  # the user's browser: E*TRADE shows the code (oob)
        code = re.search(r'id="verifier" name="verifier" type="text" value="([A-Z0-9]+)"', page.text)
        assert code, page.text
        out, err = proc.communicate(code.group(1) + "\n", timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "etrade: signed in" in out
    vault = CredentialVault(home / "vault.bin", "cli-passphrase")
    names = vault.names()
    assert any(n.startswith("etrade/") for n in names), names
    assert code.group(1) not in out + err  # the verifier is not echoed back
