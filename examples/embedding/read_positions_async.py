"""Connect to a broker (its mock), buy, and read the account and positions with AsyncIntegration."""

from __future__ import annotations

import asyncio
import uuid

from portico import AsyncIntegration

CONFIG = {
    "systems": {
        "ib": {
            "type": "brokerage",
            "connector": "interactive_brokers",
            "mock": True,
            "connection": {"host": "127.0.0.1", "port": 7496, "client_id": 1},
            "authentication": {"type": "tws", "credentials": {"username": "demo", "password": "demo"}},
        }
    },
    "monitoring": {"log_level": "WARNING", "log_format": "console"},
}

# The mock starts empty on every run while PORTICO_HOME keeps the stored order intents, and a business
# key names one intent: each run of this script is a new intent, so its keys carry the run's id.
RUN = uuid.uuid4().hex[:8]


async def main() -> None:
    async with AsyncIntegration(CONFIG) as integration:
        await integration.place_external_order(
            "ib", {"symbol": "MSFT", "side": "buy", "quantity": "3"}, idempotency_key=f"example-buy-msft-{RUN}"
        )
        account = await integration.get_external_account("ib")
        print(f"account {account.account_id}: cash {account.cash} {account.currency}, equity {account.equity}")
        positions = await integration.get_external_positions("ib")
        for position in positions:
            print(f"{position.symbol:6} {position.quantity:>8} @ {position.average_cost}")
        assert any(p.symbol == "MSFT" for p in positions)


if __name__ == "__main__":
    asyncio.run(main())
