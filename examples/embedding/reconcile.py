"""Reconcile the internal book against the broker: positions matched through the instrument
cross-reference (ISIN, not ticker text), quantity and cost differences beyond tolerance, missing and
unexpected holdings; the breaks exported as CSV."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from portico import AsyncIntegration
from portico.trading import FileBook, XrefEntry

# The mock starts empty on every run while PORTICO_HOME keeps the stored orders and executions: each run
# is a new session, so its order keys carry the run's id, its mock a seed of its own (execution ids are
# the seed's), and the trades compared are this session's (since it started).
RUN = uuid.uuid4().hex[:8]
STARTED = datetime.now(UTC)

CONFIG = {
    "systems": {
        "alpaca_paper": {
            "type": "brokerage",
            "connector": "alpaca",
            "mock": True,
            "mock_seed": int(RUN, 16),
            "authentication": {"type": "api_key_pair", "credentials": {"api_key_id": "k", "api_secret_key": "s"}},
        }
    },
    "monitoring": {"log_level": "WARNING", "log_format": "console"},
}


async def main() -> None:
    async with AsyncIntegration(CONFIG) as integration:
        for symbol, quantity in (("AAPL", "10"), ("MSFT", "5"), ("NVDA", "2")):
            await integration.place_external_order(
                "alpaca_paper", {"symbol": symbol, "side": "buy", "quantity": quantity}, idempotency_key=f"recon-{symbol}-{RUN}"
            )
        account = await integration.get_external_account("alpaca_paper")

        xref = integration.trading.xref
        for iid, symbol in (("US0378331005", "AAPL"), ("US5949181045", "MSFT"), ("US67066G1040", "NVDA"), ("US88160R1014", "TSLA")):
            xref.add_entry(XrefEntry(iid, isin=iid))
            xref.add_entry(XrefEntry(iid, system="alpaca_paper", symbol=symbol))

        # the book agrees on AAPL, holds 4 MSFT instead of 5, knows nothing of NVDA and expects TSLA
        book = {
            "positions": [
                {"system": "alpaca_paper", "account_id": account.account_id, "instrument_id": "US0378331005", "quantity": "10"},
                {"system": "alpaca_paper", "account_id": account.account_id, "instrument_id": "US5949181045", "quantity": "4"},
                {"system": "alpaca_paper", "account_id": account.account_id, "instrument_id": "US88160R1014", "quantity": "7"},
            ]
        }
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "book.json"
            path.write_text(json.dumps(book))
            report = await integration.reconcile(["alpaca_paper"], book=FileBook(path), since=STARTED)

        print(f"compared {report.compared}; {len(report.breaks)} breaks")
        for item in report.breaks:
            print(f"  {item.kind.value:22} {item.instrument_id or '-':14} {item.field:10} book {item.internal} broker {item.broker}")
        print(report.to_csv().splitlines()[0])
        kinds = {(b.kind.value, b.instrument_id) for b in report.breaks}
        assert {i for _, i in kinds} == {"US5949181045", "US67066G1040", "US88160R1014"}, kinds


if __name__ == "__main__":
    asyncio.run(main())
