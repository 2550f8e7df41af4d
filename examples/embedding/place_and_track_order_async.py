"""Place orders on two brokers and follow every order event across both as an async iterator."""

from __future__ import annotations

import asyncio
import uuid

from portico import AsyncIntegration

CONFIG = {
    "systems": {
        "alpaca_paper": {
            "type": "brokerage",
            "connector": "alpaca",
            "mock": True,
            "authentication": {"type": "api_key_pair", "credentials": {"api_key_id": "k", "api_secret_key": "s"}},
        },
        "ib": {
            "type": "brokerage",
            "connector": "interactive_brokers",
            "mock": True,
            "connection": {"host": "127.0.0.1", "port": 7496, "client_id": 7},
            "authentication": {"type": "tws"},
        },
    },
    "monitoring": {"log_level": "WARNING", "log_format": "console"},
}

# The mock starts empty on every run while PORTICO_HOME keeps the stored order intents, and a business
# key names one intent: each run of this script is a new intent, so its keys carry the run's id.
RUN = uuid.uuid4().hex[:8]


async def main() -> None:
    async with AsyncIntegration(CONFIG) as integration:
        keys = {"alpaca_paper": f"async-demo-alpaca-{RUN}", "ib": f"async-demo-ib-{RUN}"}
        events = integration.trading.order_events()
        terminal: dict[str, str] = {}

        async def follow() -> None:
            async for update in events:
                record = update.record
                print(f"  {record.system:13} {record.symbol:5} {record.status.value:17} filled {record.filled_quantity}")
                if record.idempotency_key in keys.values() and record.is_terminal:
                    terminal[record.system] = record.status.value
                    if len(terminal) == len(keys):
                        return

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0)
        for system_id, key in keys.items():
            await integration.place_external_order(
                system_id, {"symbol": "AAPL", "side": "buy", "quantity": "4"}, idempotency_key=key
            )
        await asyncio.wait_for(follower, 20)
        print("final:", terminal)
        assert terminal == {"alpaca_paper": "filled", "ib": "filled"}


if __name__ == "__main__":
    asyncio.run(main())
