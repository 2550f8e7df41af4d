"""Live quotes from Alpaca's market data stream into a callback, then unsubscribe."""

from __future__ import annotations

import asyncio

from portico import AsyncIntegration

CONFIG = {
    "systems": {
        "alpaca_paper": {
            "type": "brokerage",
            "connector": "alpaca",
            "mock": True,
            "authentication": {"type": "api_key_pair", "credentials": {"api_key_id": "k", "api_secret_key": "s"}},
        }
    },
    "monitoring": {"log_level": "WARNING", "log_format": "console"},
}


async def main() -> None:
    async with AsyncIntegration(CONFIG) as integration:
        quotes = []
        enough = asyncio.Event()

        def on_quote(quote) -> None:
            quotes.append(quote)
            if len(quotes) >= 10:
                enough.set()

        subscription = await integration.subscribe_market_data("alpaca_paper", ["AAPL", "MSFT"], "quotes", on_quote)
        await asyncio.wait_for(enough.wait(), 20)
        await integration.unsubscribe_market_data("alpaca_paper", subscription)
        for quote in quotes[:5]:
            print(f"{quote.timestamp:%H:%M:%S.%f} {quote.symbol:5} {quote.bid_price} x {quote.ask_price}")
        print(f"{len(quotes)} quotes, symbols {sorted({q.symbol for q in quotes})}")


if __name__ == "__main__":
    asyncio.run(main())
