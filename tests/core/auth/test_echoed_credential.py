"""A credential a vendor echoes in an error body is masked everywhere portico raises or keeps it.

End to end: the runtime places an order on the Alpaca mock, which answers 403 with the API key in its
body (some gateways do echo the key they refused); the key must not be in the raised error, its repr,
the database file, the order history, or an ``orders`` export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from portico.cli import cli
from portico.errors import VenueRejected
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.trading import OrderRejected

API_KEY = "PKECHOEDKEY7A1B2C3D4"
API_SECRET = "echoed-secret-9f8e7d6c5b4a"


def _config() -> dict[str, Any]:
    return {
        "systems": {
            "alpaca_paper": {
                "type": "brokerage",
                "connector": "alpaca",
                "mock": True,
                "mock_seed": 3,
                "authentication": {
                    "type": "api_key_pair",
                    "credentials": {"api_key_id": API_KEY, "api_secret_key": API_SECRET},
                },
            }
        }
    }


async def test_a_key_echoed_in_a_403_body_is_masked_in_errors_store_history_and_export(
    portico_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AsyncIntegration(_config(), plugins=PluginManager()) as integration:
        integration.systems["alpaca_paper"].mock.app.faults.add(
            {
                "route": "/v2/orders",
                "method": "POST",
                "kind": "error",
                "status": 403,
                "body": {"code": 40310000, "message": f"forbidden {API_KEY}"},
            }
        )
        with pytest.raises(OrderRejected) as info:
            await integration.place_external_order(
                "alpaca_paper", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="echo-1"
            )
        error = info.value
        assert isinstance(error, VenueRejected)
        record = error.record
        assert record.reject_reason is not None and "forbidden ***" in record.reject_reason
        history = integration.trading.repo.history(record.id)
        raised = [str(error), repr(error), str(error.to_dict()), repr(error.args), repr(record)]
        kept = [repr(integration.trading.get_order(record.id)), *(repr(h) for h in history)]

    db_bytes = b"".join(p.read_bytes() for p in portico_home.iterdir() if p.name.startswith("portico.db"))
    monkeypatch.chdir(tmp_path)  # exports are confined to the working directory and the home's exports
    out = tmp_path / "orders.csv"
    result = CliRunner().invoke(cli, ["export", "--type", "orders", "--destination", f"file://{out}"])
    assert result.exit_code == 0, result.output
    exported = out.read_text()
    assert record.id in exported  # the rejected order really is in the export

    for where, text in [("raised", "\n".join(raised)), ("kept", "\n".join(kept)), ("export", exported)]:
        assert API_KEY not in text, where
        assert API_SECRET not in text, where
    assert API_KEY.encode() not in db_bytes
    assert b"forbidden ***" in db_bytes  # the reason is stored, masked, not dropped
