"""Place an order with a business idempotency key and track it to its fill through order events.

The intent is stored before it is sent; the same key sent again returns the same order, never a second
one. A resting limit order is then cancelled.
"""

from __future__ import annotations

import threading
import uuid

from portico import Integration

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

# The mock starts empty on every run while PORTICO_HOME keeps the stored order intents, and a business
# key names one intent: each run of this script is a new intent, so its keys carry the run's id.
RUN = uuid.uuid4().hex[:8]


def main() -> None:
    with Integration(CONFIG) as integration:
        filled = threading.Event()
        seen: list[str] = []

        def on_event(update) -> None:  # runs on the runtime's thread
            seen.append(update.record.status.value)
            if update.record.idempotency_key == f"rebalance-2026-11-21-aapl-{RUN}" and update.record.is_terminal:
                filled.set()

        integration.trading.on_order_event(on_event)
        order_id = integration.place_external_order(
            "alpaca_paper",
            {"symbol": "AAPL", "side": "buy", "quantity": "25", "order_type": "market"},
            idempotency_key=f"rebalance-2026-11-21-aapl-{RUN}",
        )
        again = integration.place_external_order(
            "alpaca_paper",
            {"symbol": "AAPL", "side": "buy", "quantity": "25", "order_type": "market"},
            idempotency_key=f"rebalance-2026-11-21-aapl-{RUN}",
        )
        assert again == order_id, "the same key returns the same order"
        assert filled.wait(15), f"no terminal event (saw {seen})"
        order = integration.get_external_order_status("alpaca_paper", order_id)
        print(f"{order_id}: {order.status.value}, {order.filled_quantity} @ {order.average_fill_price}; events: {seen}")

        resting = integration.place_external_order(
            "alpaca_paper",
            {"symbol": "MSFT", "side": "buy", "quantity": "1", "order_type": "limit", "limit_price": "1.00"},
            idempotency_key=f"bargain-msft-{RUN}",
        )
        print("resting:", integration.get_external_order_status("alpaca_paper", resting).status.value)
        integration.cancel_external_order("alpaca_paper", resting)
        status = integration.get_external_order_status("alpaca_paper", resting).status.value
        print("after cancel:", status)
        assert status in {"pending_cancel", "canceled"}


if __name__ == "__main__":
    main()
