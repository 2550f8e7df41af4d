"""Quotes from a provider that does not stream (Alpha Vantage): the same call polls it, paced by its
rate limits, and delivers each new quote to the callback (an unchanged quote is not delivered again)."""

from __future__ import annotations

import threading

from portico import Integration

CONFIG = {
    "systems": {
        "alpha_vantage": {
            "type": "market_data",
            "mock": True,
            "mock_options": {"default_tier": "premium_75"},  # the mock serves keys on the premium plan
            "connection": {"tier": "premium_75"},
            "authentication": {"type": "api_key", "credentials": {"api_key": "demo"}},
        }
    },
    "monitoring": {"log_level": "WARNING", "log_format": "console"},
}


def main() -> None:
    with Integration(CONFIG) as integration:
        received = []
        done = threading.Event()

        def on_quote(quote) -> None:
            received.append(quote)
            done.set()

        subscription = integration.subscribe_market_data(
            "alpha_vantage", ["IBM"], "quotes", on_quote, poll_interval=0.2
        )
        assert done.wait(30), "no polled quotes arrived"
        integration.unsubscribe_market_data("alpha_vantage", subscription)
        for quote in received:
            print(f"{quote.symbol} last {quote.last_price} (as of {quote.timestamp:%Y-%m-%d})")


if __name__ == "__main__":
    main()
